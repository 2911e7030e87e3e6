// Leader lines and anchor markers, a constant width in pixels at any output size.
// Vertex: x = which end (0 a, 1 b) or the marker corner x, y = side (-1, 1) or corner
// y, z = segment index, w = 0 line, 1 marker.
uniform mat4 p3d_ViewProjectionMatrix;
uniform vec2 u_viewport;
uniform vec4 u_seg_a[24];    // xyz: world point, w: opacity
uniform vec4 u_seg_b[24];    // xyz: world point, w: 1 to mark point a
in vec4 p3d_Vertex;
out vec2 v_corner;
out float v_alpha;
out float v_marker;

void main() {
    int i = int(p3d_Vertex.z + 0.5);
    vec4 a = p3d_ViewProjectionMatrix * vec4(u_seg_a[i].xyz, 1.0);
    vec4 b = p3d_ViewProjectionMatrix * vec4(u_seg_b[i].xyz, 1.0);
    float px = max(u_viewport.y / 720.0, 1.0);
    v_alpha = u_seg_a[i].w * (p3d_Vertex.w > 0.5 ? u_seg_b[i].w : 1.0);
    v_marker = p3d_Vertex.w;
    v_corner = p3d_Vertex.xy;
    if (p3d_Vertex.w > 0.5) {
        vec2 off = p3d_Vertex.xy * 5.0 * px / u_viewport * 2.0;
        gl_Position = vec4(a.xy / a.w + off, 0.0, 1.0);
        return;
    }
    vec2 sa = a.xy / a.w;
    vec2 sb = b.xy / b.w;
    vec2 dir = (sb - sa) * u_viewport;
    dir = length(dir) > 1e-4 ? normalize(dir) : vec2(1.0, 0.0);
    vec2 nrm = vec2(-dir.y, dir.x) * 0.75 * px / u_viewport * 2.0;
    vec2 s = mix(sa, sb, p3d_Vertex.x);
    gl_Position = vec4(s + nrm * p3d_Vertex.y, 0.0, 1.0);
}
