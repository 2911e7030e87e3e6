// Soft glow around each lantern's candle: one camera-facing quad per lamp, expanded
// here from the lamp uniforms. p3d_Vertex = (corner x, corner y, lamp index, 0).
// Quads (not point sprites) so that a halo on the seam between two displays is cut by
// the frustum exactly like geometry.
uniform mat4 p3d_ModelViewProjectionMatrix;
uniform vec4 u_lamps[32];
uniform vec3 u_cam_right;
uniform vec3 u_cam_up;
in vec4 p3d_Vertex;
out vec2 v_corner;
out float v_power;

void main() {
    int i = int(p3d_Vertex.z + 0.5);
    vec4 lamp = u_lamps[i];
    vec3 towards = normalize(u_cam - lamp.xyz);
    float radius = 0.85;
    vec3 p = lamp.xyz + towards * 0.45 + (p3d_Vertex.x * u_cam_right + p3d_Vertex.y * u_cam_up) * radius;
    v_corner = p3d_Vertex.xy;
    v_power = lamp.w;
    gl_Position = p3d_ModelViewProjectionMatrix * vec4(p, 1.0);
}
