in float v_alpha;
in float v_tint;
out vec4 o_color;

uniform vec3 u_light[4];

void main() {
    vec2 q = gl_PointCoord * 2.0 - 1.0;
    float r = dot(q, q);
    float a = v_alpha * (1.0 - smoothstep(0.25, 1.0, r));
    if (a <= 0.002) {
        discard;
    }
    vec3 c = vec3(0.62, 0.70, 0.85) + mix(u_light[0], u_light[3], v_tint) * 0.12;
    o_color = vec4(scene_light(c), a * 0.85);
}
