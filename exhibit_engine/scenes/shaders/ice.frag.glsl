// Translucent river ice lit from inside. Opaque in GL terms: transmission is faked from
// the ice thickness (COLOR_0.r) and the view angle, reflection is the night sky, and the
// inner light of each zone (COLOR_0.g) follows the light programme (u_light[]).
in vec3 v_world;
in vec3 v_normal;
in vec3 v_tangent;
in vec2 v_uv;
in vec4 v_color;
out vec4 o_color;

uniform vec3 u_light[4];      // inner light per zone: walls, towers, keep, lantern
uniform float u_light_scale;  // per node (a lantern's flicker)
uniform vec3 u_moon;          // direction towards the moon

const float IOR = 1.31;

void main() {
    vec3 n0 = normalize(v_normal);
    vec3 tan0 = normalize(v_tangent - n0 * dot(n0, v_tangent));
    vec3 bit0 = cross(n0, tan0);
    vec3 to_eye = u_cam - v_world;
    float dist = length(to_eye);
    vec3 V = to_eye / dist;

    float thick = v_color.r;
    int zone = int(v_color.g * 3.0 + 0.5);
    // Block seams need surface metres: a mesh without TEXCOORD_0 gets none.
    float seams_on = v_color.b * step(1e-7, dot(fwidth(v_uv), vec2(1.0)));
    float strength = v_color.a;
    vec3 L = u_light[zone] * u_light_scale;

    // Blocks of 1.0 m x 0.5 m in running bond, from surface metres.
    vec2 size = vec2(1.0, 0.5);
    vec2 g = v_uv / size;
    float row = floor(g.y);
    g.x += 0.5 * mod(row, 2.0);
    vec2 cell = floor(g);
    vec2 f = fract(g);
    vec2 fw = fwidth(g);
    // 1 where a block spans many pixels, 0 where blocks shrink below ~3 pixels: per-block
    // detail fades to its average there instead of aliasing into moire.
    float resolve = seams_on * (1.0 - smoothstep(0.12, 0.4, max(fw.x, fw.y)));
    float bid = mix(0.5, hash12(cell * vec2(1.0, 7.0) + vec2(float(zone) * 3.1)), resolve);
    vec2 edge = min(f, 1.0 - f) * size;             // metres to the block's edges
    float dseam = min(edge.x, edge.y);
    // A 2 cm joint, box-filtered over the pixel: far away it fades to its area share.
    float aa = max(length(fwidth(v_uv)), 1e-4);
    float half_w = 0.01;
    float seam = seams_on * clamp((half_w + 0.5 * aa - dseam) / aa, 0.0, 1.0)
                 * min(1.0, 2.0 * half_w / aa);
    // Bevels: the normal rolls over within 3 cm of each block edge.
    vec2 roll = (1.0 - smoothstep(0.0, 0.03, edge)) * sign(f - 0.5);
    vec3 N = normalize(n0 + resolve * 0.5 * (roll.x * tan0 + roll.y * bit0));
    // Milky core: whiter towards the middle of a block.
    float core = mix(0.35, 1.0 - smoothstep(0.05, 0.5, max(abs(f.x - 0.5), abs(f.y - 0.5)) * 2.0),
                     resolve);

    float cosv = clamp(dot(N, V), 0.0, 1.0);
    float F0 = pow((IOR - 1.0) / (IOR + 1.0), 2.0);
    float F = F0 + (1.0 - F0) * pow(1.0 - cosv, 5.0);

    // Path length through the ice: thin parts glow in the light's own colour, thick
    // parts shift to teal (ice absorbs red first) and darken.
    float path = mix(0.05, 1.6, thick) * (0.9 + 0.2 * bid) / max(cosv, 0.35);
    float thin = exp(-path * 1.2);
    vec3 tint = exp(-path * vec3(0.50, 0.14, 0.10));
    // LED strips: brighter low down on each element, in soft patches along it. The
    // patches are looked up with a parallax offset, as if they hung deep inside the ice,
    // so they drift against the block seams as the camera moves.
    vec2 vt = vec2(dot(-V, tan0), dot(-V, bit0)) / max(cosv, 0.35);
    vec2 deep_uv = v_uv + vt * mix(0.05, 0.6, thick);
    float n1 = vnoise(deep_uv * vec2(0.5, 0.9) + float(zone) * 13.1);
    float n2 = vnoise(deep_uv * vec2(2.2, 3.1) + 7.7);
    float patch = 0.35 + 0.8 * n1 * n1 + 0.25 * n2;
    // Castle LEDs sit low; a lantern's light is its candle, 1.4 m up.
    float low = zone == 3 ? 0.25 + 1.3 * exp(-abs(v_world.z - 1.4) * 3.0)
                          : 0.75 + 0.55 * exp(-max(v_world.z - 0.5, 0.0) * 0.25);
    float led = strength * (0.75 + 0.5 * bid) * patch * low;
    // Half the absorption tint: enough to cool thick ice, not enough to turn amber olive.
    vec3 glow = L * mix(vec3(1.0), tint, 0.45) * led * (0.35 + 1.6 * thin);
    vec3 deep = vec3(0.010, 0.065, 0.075) * (1.0 - thin) * (0.35 + 0.35 * led);
    vec3 milky = (vec3(0.50, 0.66, 0.80) * 0.035 + L * 0.06) * core * (1.0 - thin * 0.5);
    vec3 body = glow + deep + milky;

    // Tiny trapped bubbles: bright specks in a fine grid, only where they are resolvable.
    vec2 bg = v_uv * 14.0;
    vec2 bc = floor(bg);
    vec2 bp = 0.2 + 0.6 * vec2(hash12(bc + 7.0), hash12(bc + 13.0));
    float bub = step(0.84, hash12(bc + 41.0))
                * (1.0 - smoothstep(0.04, 0.10, length(fract(bg) - bp)))
                * seams_on * (1.0 - smoothstep(0.08, 0.3, length(fwidth(bg))));
    body += (L * 0.35 + vec3(0.12, 0.15, 0.18)) * bub * strength;

    // Joints: packed snow-slush between blocks, frosty and a little brighter.
    vec3 frost = vec3(0.30, 0.38, 0.46) * 0.35 + L * 0.30 * strength;
    body = mix(body, frost, seam * 0.65);

    vec3 R = reflect(-V, N);
    float px = length(fwidth(R));
    // The sky, plus the festival's own light seen near the horizon (glossy rims).
    vec3 refl = (R.z > 0.0 ? night_sky(R, px, false) : horizon_haze() * 1.4)
                + u_glow * 0.12 * exp(-abs(R.z) * 4.0);
    vec3 spec = vec3(0.7, 0.8, 1.0) * pow(max(dot(R, u_moon), 0.0), 300.0) * 2.0;

    // Sparkle: a few facets per square metre flash as the camera moves.
    vec2 sg = v_uv * 30.0;
    vec2 sc = floor(sg);
    vec3 fn = normalize(N + 0.7 * (hash33(vec3(sc, 3.0)) - 0.5));
    float glint = pow(max(dot(reflect(-V, fn), u_moon), 0.0), 80.0);
    float sp = step(0.93, hash12(sc + 91.0)) * glint
               * (1.0 - smoothstep(0.1, 0.4, length(fwidth(sg))));
    // Light piped to grazing faces and silhouettes: ice edges glow.
    vec3 rim = L * strength * 0.35 * pow(1.0 - cosv, 3.0) * (1.0 - 0.5 * thick);
    vec3 c = body * (1.0 - F) + rim + (refl + spec) * F * 1.5 + vec3(0.8, 0.9, 1.0) * sp * 0.6;

    float fog = 1.0 - exp(-dist * 0.0035);
    c = mix(c, horizon_haze(), fog);
    o_color = vec4(scene_light(c), 1.0);
}
