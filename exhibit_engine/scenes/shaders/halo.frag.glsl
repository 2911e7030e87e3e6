in vec2 v_corner;
in float v_power;
out vec4 o_color;

uniform vec3 u_light[4];

void main() {
    float r2 = dot(v_corner, v_corner);
    float a = (exp(-r2 * 5.0) * 0.22 + exp(-r2 * 40.0) * 0.35) * v_power;
    a *= 1.0 - smoothstep(0.7, 1.0, r2);
    o_color = vec4(scene_light(u_light[3] * a), 1.0);    // added to the frame (additive blending)
}
