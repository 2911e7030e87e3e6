// Clear river ice at night, lit from inside. Opaque in GL terms; what light does inside a
// block is modelled per pixel from the mesh's attributes (COLOR_0 = thickness, light
// zone, block seams, LED strength; TEXCOORD_0 = surface metres), in scene-linear light:
//
// - transmission: the view ray refracts into the ice (IOR 1.31) and picks up what lies
//   behind it from the environment (night sky above the horizon, the lit festival and
//   snow below it), absorbed along its path through the ice: red first, so thin ice is
//   clear and thick ice goes teal (the path is the block's thickness over the cosine);
// - scatter: cool white light from the festival's white LEDs and the moon, scattered by
//   the block's milky core (whiter towards the middle of a block) and by tiny bubbles;
// - LED strips: lines of coloured light behind and below chosen block joints (a fixed
//   layout per zone), seen blurred through the ice, lighting the ice near them and fading
//   into it over tens of centimetres: colour is a feature of a block, not its surface;
// - frosted joints between blocks and crisp bevels on their edges;
// - Fresnel reflection of the night sky and the moon.
//
// Every feature is band-limited (fades to its average where it is finer than a pixel),
// so the picture does not shimmer as the camera moves.
in vec3 v_world;
in vec3 v_normal;
in vec3 v_tangent;
in vec2 v_uv;
in vec4 v_color;
out vec4 o_color;

uniform vec3 u_light[4];      // LED colour per zone: walls, towers, keep, lantern candle
uniform float u_light_scale;  // per node (a lantern's flicker)
uniform vec3 u_moon;          // direction towards the moon

const float IOR = 1.31;
const vec3 ABSORB = vec3(1.10, 0.26, 0.13);   // per metre: red first (clear to teal)
const vec3 WHITE = vec3(0.78, 0.89, 1.00);    // the cool white inner light
const vec2 BLOCK = vec2(1.0, 0.5);            // river-ice blocks, running bond (m)

// What the refracted ray sees behind the ice: the sky's gradient above (stars and aurora
// are lost in the blur of the ice), the lit festival below.
vec3 behind(vec3 d) {
    vec3 glow = u_glow * 0.035 * exp(-abs(d.z) * 5.0);
    if (d.z > 0.0) {
        return mix(horizon_haze(), vec3(0.0015, 0.0035, 0.016), pow(d.z, 0.42)) + glow;
    }
    return vec3(0.020, 0.028, 0.045) + glow;
}

// Is block joint j (a horizontal joint between courses) of zone z fitted with a strip?
float strip_at(float j, float z) {
    return abs(j) < 0.5 ? 1.0 : step(0.0, j) * step(0.84, hash12(vec2(j * 1.7 + 0.3, z * 5.1 + 2.0)));
}

void main() {
    vec3 n0 = normalize(v_normal);
    vec3 tan0 = normalize(v_tangent - n0 * dot(n0, v_tangent));
    vec3 bit0 = cross(n0, tan0);
    vec3 to_eye = u_cam - v_world;
    float dist = length(to_eye);
    vec3 V = to_eye / dist;

    float thick = v_color.r;
    int zone = int(v_color.g * 3.0 + 0.5);
    float seams_on = v_color.b * step(1e-7, dot(fwidth(v_uv), vec2(1.0)));
    float strength = v_color.a;
    vec3 L = u_light[zone] * u_light_scale;

    // Blocks from surface metres.
    vec2 g = v_uv / BLOCK;
    float row = floor(g.y);
    g.x += 0.5 * mod(row, 2.0);
    vec2 cell = floor(g);
    vec2 f = fract(g);
    vec2 fw = fwidth(g);
    // 1 where a block spans many pixels, 0 where blocks shrink below ~3 pixels.
    float resolve = seams_on * (1.0 - smoothstep(0.12, 0.4, max(fw.x, fw.y)));
    float bid = mix(0.5, hash12(cell * vec2(1.0, 7.0) + vec2(float(zone) * 3.1)), resolve);
    vec2 edge = min(f, 1.0 - f) * BLOCK;             // metres to the block's edges
    float dseam = min(edge.x, edge.y);
    float aa = max(length(fwidth(v_uv)), 1e-4);
    float half_w = 0.012;                             // a 2.4 cm frosted joint
    float seam = seams_on * clamp((half_w + 0.5 * aa - dseam) / aa, 0.0, 1.0)
                 * min(1.0, 2.0 * half_w / aa);
    vec2 roll = (1.0 - smoothstep(0.0, 0.035, edge)) * sign(f - 0.5) * resolve;
    vec3 N = normalize(n0 + 0.55 * (roll.x * tan0 + roll.y * bit0));
    // The milky core: whiter towards the middle of a block, clear near its faces.
    vec2 c2 = abs(f - 0.5) * 2.0;
    vec2 cq = v_uv * vec2(1.3, 2.1) + bid * 17.0;
    float cloud = 0.65 * vnoise(cq) + 0.35 * vnoise(cq * 2.7 + 5.3);
    float core = mix(0.5 + 0.35 * cloud,
                     (0.55 + 0.45 * (1.0 - smoothstep(0.2, 1.0, max(c2.x, c2.y * 0.9))))
                           * (0.5 + 0.8 * cloud),
                     resolve);

    float cosv = clamp(dot(N, V), 0.0, 1.0);
    float F0 = pow((IOR - 1.0) / (IOR + 1.0), 2.0);
    float F = F0 + (1.0 - F0) * pow(1.0 - cosv, 5.0);

    // The path through the ice, and what it lets through.
    float depth = mix(0.08, 1.1, thick) * (0.85 + 0.3 * bid);
    float path = depth / max(cosv, 0.3);
    vec3 tint = exp(-ABSORB * path);
    vec3 T = refract(-V, N, 1.0 / IOR);
    vec3 through = behind(length(T) > 0.0 ? T : -V) * tint;

    // Scatter of the white inner light: the milky core and the joints glow blue-white,
    // thick ice tinted teal by what it absorbs on the way out.
    vec3 cool = WHITE * (0.04 + 0.34 * core * core) * mix(vec3(1.0), tint, 0.40)
                * (zone == 3 ? 0.15 : 1.0);

    // Tiny bubbles, deep in the block (parallax), each a soft speck.
    vec2 vt = vec2(dot(-V, tan0), dot(-V, bit0)) / max(cosv, 0.35);
    vec2 deep = v_uv + vt * depth * 0.5;
    vec2 bg = deep * 16.0;
    vec2 bc = floor(bg);
    vec2 bp = 0.25 + 0.5 * vec2(hash12(bc + 7.0), hash12(bc + 13.0));
    float bub = step(0.80, hash12(bc + 41.0))
                * (1.0 - smoothstep(0.02, 0.12, length(fract(bg) - bp)))
                * seams_on * (1.0 - smoothstep(0.06, 0.25, length(fwidth(bg))));
    cool += WHITE * bub * 0.55 * (0.4 + core);

    // LED strips behind chosen horizontal joints (and every face's base): a line seen
    // blurred through the ice, light that fades into the ice above and below it.
    float zf = float(zone);
    float v = v_uv.y / BLOCK.y;                       // in courses
    float lit = 0.0;
    float line = 0.0;
    float spread = mix(0.45, 0.9, thick);             // fall-off, in courses
    float blur = mix(0.11, 0.26, thick);              // the line's width, in courses
    float fv = max(fwidth(v), 1e-4);
    for (int k = -1; k <= 2; ++k) {
        float j = floor(v) + float(k);
        float on = strip_at(j, zf);
        float d = abs(v - j);
        lit += on * exp(-d / spread - (d * d) / 1.6);     // no long tail: the body stays white
        float wl = max(blur, fv);                     // never finer than a pixel
        line += on * exp(-(d * d) / (wl * wl)) * (blur / wl);
    }
    // Strips run along stretches of the joint, not all of it: soft breaks along u.
    float run = smoothstep(0.25, 0.55, vnoise(vec2(v_uv.x * 0.35 + zf * 7.0, floor(v) * 3.1)));
    float candle = zone == 3 ? exp(-abs(v_world.z - 1.4) * 2.5) : 0.0;
    float led = strength * (zone == 3 ? 0.12 + 4.0 * candle
                                      : (0.3 + 0.7 * run) * (1.4 * lit + 1.8 * line));
    // Thin ice lets the strip's colour through; thick ice cools it on its way out.
    vec3 colour = L * led * mix(vec3(1.0), tint, 0.35) * (0.55 + 0.9 * exp(-path * 1.5));

    // Near a strip its light swamps the white: the colour stays saturated there.
    float near = clamp(led * 0.8, 0.0, 1.0) * (zone == 3 ? 0.0 : 1.0);
    vec3 body = through + cool * (1.0 - 0.85 * near) + colour;
    vec3 frost = WHITE * 0.42 * (1.0 - 0.6 * near) + L * strength * 0.35 * lit;
    body = mix(body, frost, seam * 0.7);

    vec3 R = reflect(-V, N);
    float px = length(fwidth(R));
    vec3 refl = (R.z > 0.0 ? night_sky(R, px, false) : horizon_haze() * 1.4)
                + u_glow * 0.05 * exp(-abs(R.z) * 4.0);
    vec3 spec = vec3(0.7, 0.8, 1.0) * pow(max(dot(R, u_moon), 0.0), 300.0) * 2.5;
    // Light piped to grazing faces and silhouettes: thin edges glow.
    vec3 rim = (WHITE * 0.25 + L * strength * 0.25 * lit) * pow(1.0 - cosv, 3.0)
               * (1.0 - 0.5 * thick);
    vec3 c = body * (1.0 - F) + rim + (refl + spec) * F * 1.5;

    float fog = 1.0 - exp(-dist * 0.0035);
    c = mix(c, horizon_haze(), fog);
    o_color = vec4(scene_light(c), 1.0);
}
