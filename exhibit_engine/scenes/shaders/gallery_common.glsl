// gallery_common.glsl: prepended (after #version) to every shader of the prints kind.
// Gallery lighting shared by walls, frames, captions and the prints themselves: one
// warm spotlight per print from the ceiling track, a dim warm fill, filmic tone map.
// Every input is set by the scene from show time t; nothing here reads a clock.

uniform vec4 u_spots[8];       // xyz: lamp position, w: intensity (0 = unused)
uniform vec4 u_aims[8];        // xyz: where the lamp points
uniform float u_fade;          // overall brightness (fades through black)
uniform vec3 u_cam;            // eye position, world space

const vec3 LAMP = vec3(1.0, 0.80, 0.58);     // about 3000 K
const vec3 FILL = vec3(0.060, 0.052, 0.044);

float ghash(vec2 p) {
    vec3 p3 = fract(vec3(p.xyx) * 0.1031);
    p3 += dot(p3, p3.yzx + 33.33);
    return fract((p3.x + p3.y) * p3.z);
}

float gnoise(vec2 p) {
    vec2 i = floor(p);
    vec2 f = fract(p);
    vec2 u = f * f * (3.0 - 2.0 * f);
    return mix(mix(ghash(i), ghash(i + vec2(1.0, 0.0)), u.x),
               mix(ghash(i + vec2(0.0, 1.0)), ghash(i + vec2(1.0, 1.0)), u.x), u.y);
}

vec3 srgb_to_linear(vec3 c) {
    return pow(c, vec3(2.2));
}

// Diffuse light at P (normal N) from the spots, plus a soft glossy highlight.
vec3 gallery_light(vec3 P, vec3 N, float gloss, out vec3 spec) {
    vec3 acc = FILL * (0.75 + 0.25 * N.z) * (1.0 - 0.12 * clamp(P.z - 2.2, 0.0, 2.0));
    spec = vec3(0.0);
    vec3 V = normalize(u_cam - P);
    for (int i = 0; i < 8; ++i) {
        if (u_spots[i].w <= 0.0) {
            continue;
        }
        vec3 L = u_spots[i].xyz - P;
        float d2 = dot(L, L);
        L *= inversesqrt(d2);
        vec3 axis = normalize(u_aims[i].xyz - u_spots[i].xyz);
        float c = dot(-L, axis);
        float cone = smoothstep(0.885, 0.965, c);          // ~15 deg hot, ~28 deg edge
        float halo = 0.16 * smoothstep(0.70, 0.93, c);     // spill beyond the pool
        float k = u_spots[i].w * (cone + halo) / d2;
        acc += LAMP * k * max(dot(N, L), 0.0);
        vec3 H = normalize(L + V);
        spec += LAMP * k * gloss * pow(max(dot(N, H), 0.0), 60.0);
    }
    return acc;
}

vec3 gallery_tonemap(vec3 c) {
    c *= u_fade;
    c = clamp((c * (2.51 * c + 0.03)) / (c * (2.43 * c + 0.59) + 0.14), 0.0, 1.0);
    return pow(c, vec3(1.0 / 2.2));
}
