// heritage_common.glsl: prepended to every shader of the heritage kind. Gallery lights,
// noise and the tone curve, so artifacts, plinths, floor and wall agree. Every input is
// set by the scene from the show time; nothing here reads a clock.

uniform vec3 u_cam;          // eye position, world space
uniform float u_fade;        // overall brightness (fades through black)
uniform vec3 u_key_dir;      // towards the warm key light (unit)
uniform vec3 u_fill_dir;     // towards the cool fill light (unit)
uniform vec3 u_rim_dir;      // towards the rim light, behind the objects (unit)
uniform vec4 u_spots[8];     // xy: a plinth's centre, z: its top, w: 1 if used

const vec3 KEY = vec3(1.00, 0.80, 0.58) * 3.2;
const vec3 FILL = vec3(0.42, 0.52, 0.72) * 0.55;
const vec3 RIM = vec3(1.00, 0.92, 0.82) * 2.6;
const vec3 AMBIENT = vec3(0.020, 0.020, 0.024);
const float PI = 3.14159265;

float h_hash12(vec2 p) {
    vec3 p3 = fract(vec3(p.xyx) * 0.1031);
    p3 += dot(p3, p3.yzx + 33.33);
    return fract((p3.x + p3.y) * p3.z);
}

float h_noise(vec2 p) {
    vec2 i = floor(p);
    vec2 f = fract(p);
    vec2 u = f * f * (3.0 - 2.0 * f);
    return mix(mix(h_hash12(i), h_hash12(i + vec2(1.0, 0.0)), u.x),
               mix(h_hash12(i + vec2(0.0, 1.0)), h_hash12(i + vec2(1.0, 1.0)), u.x), u.y);
}

// How much of the key spot reaches a world point: a soft cone onto each plinth.
float spot_light(vec3 p) {
    float s = 0.0;
    for (int i = 0; i < 8; ++i) {
        if (u_spots[i].w < 0.5) {
            continue;
        }
        vec3 target = vec3(u_spots[i].xy, u_spots[i].z + 0.2);
        vec3 src = target + u_key_dir * 4.0;
        vec3 axis = normalize(target - src);
        vec3 d = p - src;
        float c = dot(normalize(d), axis);
        s += smoothstep(0.955, 0.985, c);
    }
    return min(s, 1.0);
}

float ggx(float ndh, float a) {
    float a2 = a * a;
    float d = ndh * ndh * (a2 - 1.0) + 1.0;
    return a2 / (PI * d * d);
}

vec3 to_display(vec3 c) {
    c *= u_fade;
    // a gentle filmic shoulder (ACES fit), then the sRGB-ish transfer
    c = clamp((c * (2.51 * c + 0.03)) / (c * (2.43 * c + 0.59) + 0.14), 0.0, 1.0);
    return pow(c, vec3(1.0 / 2.2));
}
