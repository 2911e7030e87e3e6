// A light source seen directly (a lantern's candle): hot core, soft rim.
in vec3 v_world;
in vec3 v_normal;
in vec3 v_tangent;
in vec2 v_uv;
in vec4 v_color;
out vec4 o_color;

uniform vec3 u_light[4];
uniform float u_light_scale;

void main() {
    vec3 N = normalize(v_normal);
    vec3 V = normalize(u_cam - v_world);
    float facing = clamp(dot(N, V), 0.0, 1.0);
    vec3 warm = u_light[3] * u_light_scale;
    vec3 c = warm * (1.5 + 5.0 * pow(facing, 2.0)) + vec3(1.0, 0.9, 0.7) * pow(facing, 6.0) * 3.0;
    o_color = vec4(scene_light(c), 1.0);
}
