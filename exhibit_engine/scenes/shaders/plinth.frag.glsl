// Plinths, floor and back wall: matte dark surfaces, lit where the key spots land.
// u_surface: 0 plinth, 1 floor, 2 wall.
in vec3 v_world;
in vec3 v_normal;
in vec2 v_uv;
in vec4 v_color;
out vec4 o_color;

uniform float u_surface;

void main() {
    vec3 N = normalize(v_normal);
    vec3 p = v_world;
    vec3 albedo;
    if (u_surface < 0.5) {
        albedo = vec3(0.050, 0.047, 0.045);
    } else if (u_surface < 1.5) {
        float n = h_noise(p.xy * 3.0) * 0.5 + h_noise(p.xy * 17.0) * 0.5;
        albedo = vec3(0.040, 0.038, 0.036) * (0.85 + 0.3 * n);
    } else {
        albedo = vec3(0.036, 0.038, 0.044);
    }
    float spot = spot_light(p);
    vec3 color = AMBIENT * albedo * 2.0;
    color += albedo * KEY * max(dot(N, u_key_dir), 0.0) * (0.05 + 0.95 * spot) / PI;
    color += albedo * FILL * max(dot(N, u_fill_dir), 0.0) * 0.35 / PI;
    // soft pools: the floor around each plinth, a wash on the wall behind it
    for (int i = 0; i < 8; ++i) {
        if (u_spots[i].w < 0.5) {
            continue;
        }
        vec2 d = p.xy - u_spots[i].xy;
        if (u_surface > 1.5) {
            float wash = exp(-pow(d.x / 0.9, 2.0)) * exp(-pow((p.z - u_spots[i].z - 0.3) / 1.2, 2.0));
            color += albedo * vec3(0.95, 0.78, 0.60) * 1.1 * wash;
        } else if (u_surface > 0.5) {
            color += albedo * vec3(1.0, 0.82, 0.62) * 1.4 * exp(-dot(d, d) / 0.8);
        }
    }
    // plinth edges catch a little light
    if (u_surface < 0.5) {
        float lip = smoothstep(0.012, 0.0, min(v_uv.x, v_uv.y));
        color += albedo * KEY * 0.25 * lip * spot;
    }
    o_color = vec4(to_display(color), 1.0);
}
