// Artifacts: bronze (COLOR_0.a 0.5..1, metalness 2a-1: worn gold edges to patina crust),
// glazed ceramic (a about 0.3: a clear glossy coat over the body colour) and unglazed
// clay or stone (a below 0.2). COLOR_0.rgb is the baked albedo (sRGB). Warm key, cool
// fill and a rim light that traces the silhouette; reflections of a dim gallery.
in vec3 v_world;
in vec3 v_normal;
in vec2 v_uv;
in vec4 v_color;
out vec4 o_color;

vec3 gallery(vec3 r) {
    // what a polished surface mirrors: a dark room, the key's soft box, the rim's glow
    vec3 c = vec3(0.012, 0.012, 0.014) + vec3(0.03, 0.028, 0.026) * max(r.z, 0.0);
    c += KEY * 0.22 * smoothstep(0.80, 0.97, dot(r, u_key_dir));
    c += RIM * 0.12 * smoothstep(0.75, 0.97, dot(r, u_rim_dir));
    c += FILL * 0.25 * smoothstep(0.6, 0.95, dot(r, u_fill_dir));
    return c;
}

void main() {
    vec3 N = normalize(v_normal);
    vec3 V = normalize(u_cam - v_world);
    if (dot(N, V) < 0.0) {
        N = -N;   // inside of a vessel seen over its lip
    }
    float code = v_color.a;
    vec3 base = pow(v_color.rgb, vec3(2.2));
    float grain = h_noise(v_uv * 420.0) * 0.6 + h_noise(v_uv * 90.0) * 0.4;
    float bronze = step(0.45, code);
    float metal = bronze * clamp(2.0 * code - 1.0, 0.0, 1.0);
    float glaze = (1.0 - bronze) * smoothstep(0.2, 0.28, code);
    base *= 0.9 + 0.2 * grain;

    float rough = mix(0.85, 0.30, metal);
    rough = mix(rough, 0.09, glaze);
    rough = clamp(rough + 0.08 * (grain - 0.5), 0.05, 1.0);
    vec3 diffuse_col = base * (1.0 - metal);
    vec3 f0 = mix(vec3(0.04), base * 1.15, metal);

    float ndv = max(dot(N, V), 1e-3);
    vec3 fres = f0 + (1.0 - f0) * pow(1.0 - ndv, 5.0);
    vec3 color = AMBIENT * base;
    vec3 dirs[3] = vec3[3](u_key_dir, u_fill_dir, u_rim_dir);
    vec3 cols[3] = vec3[3](KEY, FILL, RIM);
    for (int i = 0; i < 3; ++i) {
        vec3 L = dirs[i];
        float ndl = max(dot(N, L), 0.0);
        vec3 H = normalize(L + V);
        float spec = ggx(max(dot(N, H), 0.0), rough * rough) * 0.25 / max(ndv, 0.2);
        vec3 lit = diffuse_col / PI + fres * spec;
        color += cols[i] * lit * ndl;
    }
    // the rim light grazes the silhouette from behind
    float edge = pow(1.0 - ndv, 3.0);
    color += RIM * 0.18 * edge * max(dot(N, u_rim_dir) + 0.3, 0.0) * mix(base + 0.1, vec3(1.0), glaze);
    color += gallery(reflect(-V, N)) * fres * mix(1.0, 2.5, max(metal, glaze)) * (1.2 - rough);
    o_color = vec4(to_display(color), 1.0);
}
