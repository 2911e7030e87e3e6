// Snowfall: every flake's position is a closed-form function of its seed and the show
// time. p3d_Vertex.xyz is a seed in [0, 1)^3, p3d_Vertex.w the depth layer in [0, 1):
// near flakes are large and slow, far ones fine and fast. Each layer fills a box that
// wraps around the camera, so the flakes are fixed in the world (true parallax) but the
// camera never runs out of them. The node sits at the world origin (model = identity).
uniform mat4 p3d_ModelViewProjectionMatrix;
uniform vec2 u_viewport;       // output size in pixels (set by the runtime)
uniform vec3 u_wind;           // m/s
in vec4 p3d_Vertex;
out float v_alpha;
out float v_tint;

void main() {
    vec3 seed = p3d_Vertex.xyz;
    float layer = p3d_Vertex.w;
    float box = mix(7.0, 70.0, layer * layer);
    float fall = mix(0.45, 1.4, layer) * (0.85 + 0.3 * seed.z);
    float size = mix(0.02, 0.011, layer) * (0.7 + 0.6 * fract(seed.x * 57.3));
    float t = u_time;
    vec3 p = seed * box + vec3(u_wind.xy * t, -fall * t);
    float ph = 6.2831853 * fract(seed.y * 13.7 + seed.z * 7.1);
    p.x += 0.22 * sin(t * (0.6 + 0.5 * seed.z) + ph);
    p.y += 0.22 * cos(t * (0.5 + 0.4 * seed.x) + ph * 1.3);
    vec3 origin = u_cam - vec3(0.5 * box, 0.5 * box, 0.3 * box);
    vec3 w = origin + mod(p - origin, vec3(box));

    vec4 c0 = p3d_ModelViewProjectionMatrix * vec4(w, 1.0);
    vec4 c1 = c0 + p3d_ModelViewProjectionMatrix * vec4(0.0, 0.0, size, 0.0);
    float px = abs(c1.y / c1.w - c0.y / c0.w) * 0.5 * u_viewport.y;
    float dist = length(w - u_cam);
    // A sprite is drawn at least 2.5 pixels wide with a smooth footprint around its exact
    // centre (snow.frag.glsl), and a smaller flake keeps its area as fainter alpha: a
    // flake moves continuously across the pixel grid instead of jumping from pixel to
    // pixel, so two projectors whose grids agree to a rounding draw it alike.
    float drawn = clamp(px, 2.5, 24.0);
    v_alpha = min(1.0, 1.3 * px * px / (drawn * drawn))
              * smoothstep(0.6, 2.0, dist)
              * (1.0 - smoothstep(0.8, 1.0, length(w - u_cam - vec3(0.0, 0.0, 0.2 * box)) / (0.5 * box)))
              * (c0.w > 0.0 ? 1.0 : 0.0);
    v_tint = fract(seed.z * 31.7);
    gl_PointSize = drawn;
    gl_Position = c0;
}
