// Lit gallery surfaces: vertex colour is the sRGB albedo, alpha the gloss. The wall
// gets a faint plaster texture, the floor oak boards.
in vec3 v_world;
in vec3 v_normal;
in vec4 v_color;
in vec2 v_uv;
out vec4 o_color;

uniform float u_surface;   // 0 plain, 1 wall plaster, 2 oak floor

void main() {
    vec3 N = normalize(v_normal);
    vec3 albedo = srgb_to_linear(v_color.rgb);
    if (u_surface > 1.5) {
        vec2 p = v_world.xy;
        float board = floor(p.y / 0.19);
        float grain = gnoise(vec2(p.x * 1.4 + board * 7.3, p.y * 60.0));
        float tone = 0.82 + 0.28 * ghash(vec2(board, floor((p.x + board * 0.77) / 1.8)));
        float seam = smoothstep(0.0, 0.004, abs(fract(p.y / 0.19) - 0.5) * 0.19 - 0.09);
        albedo *= tone * (0.86 + 0.22 * grain) * mix(0.55, 1.0, seam);
    } else if (u_surface > 0.5) {
        albedo *= 0.97 + 0.05 * gnoise(v_world.xz * 40.0) + 0.02 * gnoise(v_world.xz * 3.0);
    }
    vec3 spec;
    vec3 light = gallery_light(v_world, N, v_color.a, spec);
    o_color = vec4(gallery_tonemap(albedo * light + spec * 0.25), 1.0);
}
