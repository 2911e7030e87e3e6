// Snow-covered ground: soft drifts, sky and moon light, the coloured glow the castle
// throws on the snow, warm pools under the lanterns, glints, and haze with distance.
in vec3 v_world;
in vec3 v_normal;
in vec3 v_tangent;
in vec2 v_uv;
in vec4 v_color;
out vec4 o_color;

uniform vec3 u_light[4];
uniform vec3 u_moon;
uniform vec4 u_lamps[32];     // xyz: flame position, w: intensity (0 = unused)
uniform float u_lamp_count;  // lamps in use
uniform vec2 u_castle;        // half extents of the castle's footprint (m)

float drift(vec2 p) {
    return 0.8 * fbm(p * 0.07) + 0.06 * vnoise(p * 1.3);
}

void main() {
    vec3 to_eye = u_cam - v_world;
    float dist = length(to_eye);
    vec3 V = to_eye / dist;
    vec2 p = v_world.xy;

    // Drift normal from the height field (central differences).
    float e = 0.15;
    float hx = drift(p + vec2(e, 0.0)) - drift(p - vec2(e, 0.0));
    float hy = drift(p + vec2(0.0, e)) - drift(p - vec2(0.0, e));
    vec3 N = normalize(vec3(-hx / (2.0 * e), -hy / (2.0 * e), 1.0));

    vec3 albedo = vec3(0.82, 0.88, 0.96);
    vec3 light = vec3(0.030, 0.045, 0.085) * (0.5 + 0.5 * N.z);            // sky
    light += vec3(0.050, 0.060, 0.085) * max(dot(N, u_moon), 0.0);          // moon

    // The castle's glow: strongest at its walls, fading over ~10 m.
    vec2 q = abs(p) - u_castle;
    float d_castle = length(max(q, 0.0)) + min(max(q.x, q.y), 0.0);
    float near = exp(-max(d_castle, 0.0) / 6.0) + 0.2 * exp(-max(d_castle, 0.0) / 30.0);
    vec3 castle = mix(u_light[0], u_light[1], 0.35) * 0.55 + u_light[2] * 0.15;
    light += castle * near * 0.5 * (0.4 + 0.6 * N.z);

    vec3 warm = vec3(0.0);
    for (int i = 0; i < 32; ++i) {
        if (float(i) >= u_lamp_count) {
            break;
        }
        vec3 l = u_lamps[i].xyz - v_world;
        float d2 = dot(l, l);
        warm += u_light[3] * u_lamps[i].w * max(dot(N, normalize(l)), 0.0) / (0.6 + d2);
    }
    light += warm * 0.9;

    vec3 c = albedo * light;

    // Glints: ice crystals in the snow, each a tiny mirror with its own tilt.
    vec2 g = p * 24.0;
    vec2 cell = floor(g);
    float h = hash12(cell);
    vec3 fn = normalize(vec3((hash12(cell + 5.3) - 0.5) * 0.9, (hash12(cell + 8.1) - 0.5) * 0.9, 1.0));
    vec3 R = reflect(-V, fn);
    float glint = pow(max(dot(R, u_moon), 0.0), 30.0)
                  + 0.6 * pow(max(dot(R, normalize(vec3(-p, 6.0))), 0.0), 20.0) * near;
    float resolve = 1.0 - smoothstep(0.25, 0.7, length(fwidth(g)));
    float spot = 1.0 - smoothstep(0.1, 0.3, length(fract(g) - 0.5));
    c += (vec3(0.7, 0.8, 1.0) + castle * near) * step(0.95, h) * glint * spot * resolve * 2.0;

    float fog = 1.0 - exp(-dist * 0.008);
    c = mix(c, horizon_haze(), fog);
    o_color = vec4(scene_light(c), 1.0);
}
