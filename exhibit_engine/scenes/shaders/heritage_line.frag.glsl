// Leader lines (thin, warm white) and markers (a bright dot in a dark ring).
in vec2 v_corner;
in float v_alpha;
in float v_marker;
out vec4 o_color;

void main() {
    vec3 ink = vec3(0.93, 0.88, 0.78);
    if (v_marker > 0.5) {
        float r = length(v_corner);
        float dot_ = smoothstep(0.62, 0.48, r);
        float ring = smoothstep(1.0, 0.85, r) * (1.0 - dot_);
        float a = max(dot_, ring * 0.55);
        o_color = vec4(mix(vec3(0.05), ink, dot_) * 1.0, a * v_alpha);
        return;
    }
    float edge = 1.0 - smoothstep(0.5, 1.0, abs(v_corner.y));
    o_color = vec4(ink, 0.85 * v_alpha * (0.4 + 0.6 * edge));
}
