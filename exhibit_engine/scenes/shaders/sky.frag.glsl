in vec3 v_world;
out vec4 o_color;

void main() {
    vec3 d = normalize(v_world - u_cam);
    float px = length(fwidth(d));
    vec3 c = d.z > 0.0 ? night_sky(d, px, true) : horizon_haze();
    o_color = vec4(scene_light(c), 1.0);
}
