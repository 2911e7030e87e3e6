// common.glsl: prepended (after the #version line) to every shader of the ice kind.
// Hashes, noise, the output's light and the night sky, shared so that the sky, its reflection
// in the ice and the haze over the snow agree. Every input is set by the scene from the
// show time t; nothing here reads a clock.

uniform float u_time;      // show time t (seconds)
uniform vec3 u_cam;        // camera (eye) position, world space
uniform float u_aurora;    // aurora strength, 0 = off
uniform float u_fade;      // overall brightness (fades through black)
uniform vec3 u_glow;       // average colour of the festival light (horizon glow)

const float PI = 3.14159265;

float hash12(vec2 p) {
    vec3 p3 = fract(vec3(p.xyx) * 0.1031);
    p3 += dot(p3, p3.yzx + 33.33);
    return fract((p3.x + p3.y) * p3.z);
}

float hash13(vec3 p3) {
    p3 = fract(p3 * 0.1031);
    p3 += dot(p3, p3.zyx + 31.32);
    return fract((p3.x + p3.y) * p3.z);
}

vec3 hash33(vec3 p3) {
    p3 = fract(p3 * vec3(0.1031, 0.1030, 0.0973));
    p3 += dot(p3, p3.yxz + 33.33);
    return fract((p3.xxy + p3.yxx) * p3.zyx);
}

float vnoise(vec2 p) {
    vec2 i = floor(p);
    vec2 f = fract(p);
    vec2 u = f * f * (3.0 - 2.0 * f);
    return mix(mix(hash12(i), hash12(i + vec2(1.0, 0.0)), u.x),
               mix(hash12(i + vec2(0.0, 1.0)), hash12(i + vec2(1.0, 1.0)), u.x), u.y);
}

float fbm(vec2 p) {
    float s = 0.0;
    float a = 0.5;
    for (int i = 0; i < 4; ++i) {
        s += a * vnoise(p);
        p = p * 2.03 + vec2(17.1, 9.7);
        a *= 0.5;
    }
    return s;
}

// What a shader of the ice kind writes: scene-linear light, dimmed by u_fade. The
// runtime's post stage blooms it and tone-maps it (runtime/post.py: the ACES fit, then
// display gamma), so light adds up, blends and blooms in linear light.
vec3 scene_light(vec3 c) {
    return max(c, vec3(0.0)) * u_fade;
}

// The haze at the horizon: what the snow fades into far away.
vec3 horizon_haze() {
    return vec3(0.016, 0.030, 0.062) + u_glow * 0.02;
}

vec3 star_field(vec3 d, float px) {
    vec3 acc = vec3(0.0);
    for (int layer = 0; layer < 2; ++layer) {
        float n = layer == 0 ? 70.0 : 170.0;
        vec3 cell = floor(d * n);
        float h = hash13(cell + float(layer) * 17.13);
        if (h < (layer == 0 ? 0.05 : 0.07)) {
            vec3 sd = normalize(cell + 0.3 + 0.4 * hash33(cell + 3.7));
            float ang = length(d - sd);
            float radius = max(px * 0.75, 0.0005);
            float mag = pow(hash13(cell * 1.7 + 5.1), 5.0);
            float bright = (layer == 0 ? 1.6 : 0.55) * (0.12 + 2.2 * mag);
            float twinkle = 0.8 + 0.2 * sin(u_time * (1.1 + 2.0 * h) + 61.0 * h);
            vec3 tint = mix(vec3(0.75, 0.82, 1.0), vec3(1.0, 0.88, 0.72), hash13(cell + 9.1));
            acc += tint * bright * twinkle * exp(-(ang * ang) / (radius * radius));
        }
    }
    return acc;
}

// A curtain aurora towards the north (+Y): a sharp lower edge, rays, green to violet.
vec3 aurora(vec3 d) {
    if (u_aurora <= 0.0 || d.z <= 0.0) {
        return vec3(0.0);
    }
    float az = atan(d.y, d.x);              // +Y (north) is PI/2
    float el = asin(clamp(d.z, 0.0, 1.0));
    float off = az - 0.5 * PI;
    float env = exp(-off * off / 0.7);
    float t = u_time;
    vec3 acc = vec3(0.0);
    for (int band = 0; band < 2; ++band) {
        float fb = float(band);
        float e0 = 0.16 + 0.10 * fb + 0.06 * sin(off * 2.1 + 0.03 * t + fb * 2.0)
                   + 0.025 * sin(off * 5.3 - 0.045 * t + 1.3 + fb);
        float x = el - e0;
        float shape = x > 0.0 ? exp(-x / (0.10 - 0.03 * fb)) : exp(-(x * x) / 0.00012);
        // Rays: fine vertical folds that slide slowly along the curtain.
        float u = off * 46.0 + 4.0 * sin(off * 3.0 + 0.05 * t + fb) + 0.15 * t;
        float rays = 0.25 + 0.75 * pow(vnoise(vec2(u, fb * 7.0)), 1.5)
                     + 0.3 * vnoise(vec2(u * 3.1, 3.0 + fb));
        float breathe = 0.7 + 0.3 * sin(0.04 * t + off * 2.5 + fb * 2.1);
        vec3 col = mix(vec3(0.08, 1.0, 0.40), vec3(0.50, 0.14, 0.95),
                       smoothstep(0.03, 0.22, x));
        acc += col * shape * rays * breathe * (1.0 - 0.5 * fb);
    }
    return acc * env * 0.2 * u_aurora;
}

// The night sky seen along world direction d; px is the angular size of a pixel.
vec3 night_sky(vec3 d, float px, bool with_stars) {
    float h = clamp(d.z, -1.0, 1.0);
    vec3 zenith = vec3(0.0015, 0.0035, 0.016);
    vec3 c = mix(horizon_haze(), zenith, pow(clamp(h, 0.0, 1.0), 0.42));
    if (h > 0.0) {
        if (with_stars) {
            c += star_field(d, px) * smoothstep(0.0, 0.12, h);
        }
        c += aurora(d);
    }
    return c;
}
