// A multi-block woodblock print on its paper. Blocks print in order, lightest first,
// key block last; each multiplies its ink over the sheet where its carved mask holds
// ink. u_level says how far printing has got: block k (0-based) is done when
// u_level >= k + 1 and is being printed by a roller pass, left to right, while
// k < u_level < k + 1.
in vec3 v_world;
in vec3 v_normal;
in vec4 v_color;
in vec2 v_uv;
out vec4 o_color;

uniform sampler2D u_mask0;   // blocks 1-4 in r, g, b, a
uniform sampler2D u_mask1;   // blocks 5-8
uniform sampler2D u_grain;   // r fibre, g formation, b mottle
uniform vec4 u_inks[8];      // rgb: ink transmittance (ink / paper, linear), a: dryness
uniform vec3 u_paper;        // paper colour, linear
uniform float u_count;       // blocks in this print
uniform float u_level;       // printing progress, 0 .. u_count
uniform vec2 u_grain_scale;  // grain tiles across the sheet (x, y)

float block_mask(int k, vec4 m0, vec4 m1) {
    if (k < 4) {
        return m0[k];
    }
    return m1[k - 4];
}

void main() {
    vec4 m0 = texture(u_mask0, v_uv);
    vec4 m1 = texture(u_mask1, v_uv);
    vec3 g = texture(u_grain, v_uv * u_grain_scale).rgb;
    vec3 sheet = u_paper * (0.9 + 0.14 * g.r) * (0.97 + 0.05 * g.g);
    float ragged = (gnoise(vec2(v_uv.y * 38.0, 3.0)) - 0.5) * 0.025;
    float shade = 1.0;
    for (int k = 0; k < 8; ++k) {
        if (float(k) >= u_count) {
            break;
        }
        float done = clamp(u_level - float(k), 0.0, 1.0);
        if (done <= 0.0) {
            break;
        }
        float front = done * 1.1 - 0.05;
        float x = v_uv.x + ragged;
        float vis = 1.0 - smoothstep(front - 0.03, front, x);
        if (done < 1.0) {
            // the roller's shadow just ahead of the fresh ink
            shade *= 1.0 - 0.18 * exp(-pow((x - front - 0.03) / 0.025, 2.0));
        }
        float cov = block_mask(k, m0, m1) * vis;
        cov *= 1.0 - u_inks[k].a * (g.b - 0.35) * 0.6;
        cov = clamp(cov, 0.0, 1.0);
        sheet *= mix(vec3(1.0), u_inks[k].rgb, cov);
    }
    vec3 spec;
    vec3 light = gallery_light(v_world, normalize(v_normal), 0.0, spec);
    o_color = vec4(gallery_tonemap(sheet * shade * light), 1.0);
}
