// Caption text (Panda3D glyph pages: coverage in alpha), printed on the placard.
in vec3 v_world;
in vec3 v_normal;
in vec4 v_color;
in vec2 v_uv;
out vec4 o_color;

uniform sampler2D p3d_Texture0;
uniform vec3 u_text;       // sRGB ink of the lettering

void main() {
    float a = texture(p3d_Texture0, v_uv).a;
    if (a < 0.01) {
        discard;
    }
    vec3 spec;
    vec3 light = gallery_light(v_world, vec3(0.0, -1.0, 0.0), 0.0, spec);
    o_color = vec4(gallery_tonemap(srgb_to_linear(u_text) * light), a);
}
