"""The kiosk's own words: every line of its chrome, in Chinese, English and Russian.

The items' texts (titles, Dublin Core fields) come from the bundles and are drawn with the
bundles' fonts. What the kiosk itself says (buttons, the attract line, feedback) is here,
and :data:`UI_FONT` (a subset of the same Noto Sans CJK face as the sample bundles' label
font, made by ``tools/make_kiosk_font.py``) carries exactly these characters, so no
language needs a font installed on the kiosk PC. ``tests/kiosk/test_strings.py`` checks
that the font has every character of every string.

A string may hold ``{name}`` fields (:func:`text` fills them).
"""

from __future__ import annotations

from importlib import resources
from types import MappingProxyType
from typing import Any

__all__ = ["LANGUAGES", "LANGUAGE_NAMES", "STRINGS", "UI_FONT", "all_text", "text",
           "ui_font_bytes"]

#: The languages the kiosk speaks, in the order its switch shows them.
LANGUAGES = ("zh", "en", "ru")

#: Each language's name in itself, as the language switch shows it.
LANGUAGE_NAMES = MappingProxyType({"zh": "中文", "en": "English", "ru": "Русский"})

#: The chrome font, a file of this package.
UI_FONT = "fonts/KioskUI.otf"

_S: dict[str, dict[str, str]] = {
    "touch": {"zh": "触摸屏幕，开始探索", "en": "Touch to explore",
              "ru": "Коснитесь экрана, чтобы начать"},
    "welcome": {"zh": "欢迎", "en": "Welcome", "ru": "Добро пожаловать"},
    "browse": {"zh": "展品", "en": "The collection", "ru": "Коллекция"},
    "back": {"zh": "返回", "en": "Back", "ru": "Назад"},
    "home": {"zh": "首页", "en": "Home", "ru": "Начало"},
    "show": {"zh": "在大屏上展示", "en": "Show on the wall", "ru": "Показать на стене"},
    "sending": {"zh": "正在发送…", "en": "Sending…", "ru": "Отправляем…"},
    "moving": {"zh": "大屏正在转向这件展品…", "en": "The wall is turning to it…",
               "ru": "Стена поворачивается к экспонату…"},
    "on_wall": {"zh": "大屏正在展示", "en": "Now on the wall", "ru": "Сейчас на стене"},
    "refused": {"zh": "大屏无法展示：{reason}", "en": "The wall cannot show it: {reason}",
                "ru": "Стена не может показать: {reason}"},
    "offline": {"zh": "离线：与大屏的连接已中断", "en": "Offline: no connection to the wall",
                "ru": "Нет связи со стеной"},
    "offline_short": {"zh": "离线", "en": "Offline", "ru": "Нет связи"},
    "creator": {"zh": "作者", "en": "Creator", "ru": "Автор"},
    "date": {"zh": "年代", "en": "Date", "ru": "Дата"},
    "rights": {"zh": "版权", "en": "Rights", "ru": "Права"},
    "blocks": {"zh": "套色版：{n}", "en": "Blocks: {n}", "ru": "Досок: {n}"},
    "block_n": {"zh": "第 {k}/{n} 版：{name}", "en": "Block {k} of {n}: {name}",
                "ru": "Доска {k} из {n}: {name}"},
    "zoom_in": {"zh": "放大", "en": "Zoom in", "ru": "Увеличить"},
    "zoom_out": {"zh": "缩小", "en": "Zoom out", "ru": "Уменьшить"},
    "turntable": {"zh": "三维展示", "en": "In 3D", "ru": "В 3D"},
    "items": {"zh": "{n} 件展品", "en": "{n} items", "ru": "Экспонатов: {n}"},
    "idle": {"zh": "还在吗？触摸屏幕继续参观", "en": "Still there? Touch to keep exploring",
             "ru": "Вы ещё здесь? Коснитесь, чтобы продолжить"},
    "idle_in": {"zh": "{s} 秒后返回首页", "en": "Back to the start in {s} s",
                "ru": "Возврат к началу через {s} с"},
    "staff": {"zh": "工作人员", "en": "Staff", "ru": "Персонал"},
    "pin": {"zh": "请输入密码", "en": "Enter the PIN", "ru": "Введите PIN"},
    "pin_wrong": {"zh": "密码错误", "en": "Wrong PIN", "ru": "Неверный PIN"},
    "pin_none": {"zh": "此展台未设置密码", "en": "No PIN is set for this kiosk",
                 "ru": "PIN для киоска не задан"},
    "cancel": {"zh": "取消", "en": "Cancel", "ru": "Отмена"},
    "exit": {"zh": "退出展台模式", "en": "Leave kiosk mode", "ru": "Выйти из режима киоска"},
    "resume": {"zh": "继续展台模式", "en": "Back to kiosk mode", "ru": "Вернуться в режим киоска"},
    "online": {"zh": "在线", "en": "Online", "ru": "На связи"},
    "no_items": {"zh": "暂无展品", "en": "No items to show", "ru": "Нет экспонатов"},
}

#: Every chrome string: ``STRINGS[key][language]``.
STRINGS = MappingProxyType({k: MappingProxyType(v) for k, v in _S.items()})


def text(key: str, language: str, **fields: Any) -> str:
    """The chrome string ``key`` in ``language`` (English where it has none), filled in."""
    entry = STRINGS[key]
    return entry.get(language, entry["en"]).format(**fields)


def all_text() -> str:
    """Every character the chrome can show: the strings, the language names, digits and
    the ASCII a reason or a count may bring (a refusal's reason is English)."""
    parts = [s for entry in _S.values() for s in entry.values()]
    parts += list(LANGUAGE_NAMES.values())
    parts.append("".join(chr(c) for c in range(0x20, 0x7F)))
    parts.append("…·—–«»“”‘’×‹›")
    return "".join(parts)


def ui_font_bytes() -> bytes:
    """The chrome font's bytes (:data:`UI_FONT`, shipped with the package)."""
    return resources.files(__package__).joinpath(UI_FONT).read_bytes()
