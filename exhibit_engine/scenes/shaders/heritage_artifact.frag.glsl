// Artifacts: glTF 2.0 metallic-roughness PBR, read from each geom's own state (laid out
// by scenes/_materials.py): base colour factor x texture (sRGB, decoded by the sampler)
// x COLOR_0, metallic and roughness factors x texture (B metal, G rough), normal map
// (vertex tangent, or a cotangent frame from derivatives), occlusion, emissive factor x
// texture x strength, alpha OPAQUE / MASK / BLEND, double-sided. Lit by the gallery's
// warm key, cool fill and rim (Cook-Torrance GGX) and by the gallery itself as an
// environment: a diffuse irradiance term and a roughness-widened specular term of the
// same room (analytic, with an analytic split-sum environment BRDF), so metals mirror
// a dim room with the key's soft box in it. Linear light, the ACES curve at the end.
uniform struct p3d_MaterialParameters {
    vec4 baseColor;
    vec4 emission;
    float roughness;
    float metallic;
} p3d_Material;
// by stage mode; Panda3D binds white (a flat normal) where a geom lacks one
uniform sampler2D p3d_TextureModulate;   // base colour (sRGB)
uniform sampler2D p3d_TextureSelector;   // metallic-roughness
uniform sampler2D p3d_TextureNormal;     // normal (scale baked in)
uniform sampler2D p3d_TextureEmission;   // emissive (sRGB)
uniform sampler2D p3d_TextureGloss;      // occlusion in R (strength baked in)
// A fade between two levels of detail (scenes/_lod.py): x the share of wall pixels that
// show the new level, y +1 on the new level, -1 on the old, 0 outside a fade. The
// pattern is on the wall's pixel grid (u_wall_px maps this output's pixels onto it), so
// two projectors over one overlap drop the same pixels.
uniform vec2 u_dissolve;
uniform vec4 u_wall_px;
in vec3 v_world;
in vec3 v_normal;
in vec4 v_tangent;
in vec4 v_color;
in vec2 v_uv;
out vec4 o_color;

// A soft cap of the room's light around direction d, widened by w (in 1 - cos units)
// with its energy kept: a rough surface sees the key's box larger and dimmer.
float lobe(float c, float lo, float hi, float w) {
    float s0 = 1.0 - 0.5 * (lo + hi);
    float k = (s0 + w) / s0;
    return smoothstep(1.0 - (1.0 - lo) * k, 1.0 - (1.0 - hi) * k, c) / k;
}

// The gallery as an environment, seen along r, blurred by w: a dark warm room, a faint
// ceiling, the floor's pools of light, and (weighted by lights) the key's soft box, the fill's bounce and the rim's
// glow. The diffuse term takes little of those: the direct lights already give it.
vec3 gallery(vec3 r, float w, float lights) {
    vec3 c = vec3(0.026, 0.024, 0.024)
           + vec3(0.066, 0.056, 0.044) * smoothstep(-0.3 - w, 1.0, r.z)
           + vec3(0.05, 0.04, 0.028) * smoothstep(0.1 + w, -0.6, r.z);   // the lit floor
    c += lights * KEY * 0.44 * lobe(dot(r, u_key_dir), 0.80, 0.97, w);
    c += lights * RIM * 0.24 * lobe(dot(r, u_rim_dir), 0.75, 0.97, w);
    c += lights * FILL * 0.50 * lobe(dot(r, u_fill_dir), 0.60, 0.95, w);
    return c;
}

// Split-sum environment BRDF, analytic fit (Karis, "Physically Based Shading on Mobile").
vec2 env_brdf(float rough, float ndv) {
    const vec4 c0 = vec4(-1.0, -0.0275, -0.572, 0.022);
    const vec4 c1 = vec4(1.0, 0.0425, 1.04, -0.04);
    vec4 r = rough * c0 + c1;
    float a004 = min(r.x * r.x, exp2(-9.28 * ndv)) * r.x + r.y;
    return vec2(-1.04, 1.04) * a004 + r.zw;
}

float smith_ggx(float ndl, float ndv, float a) {
    float a2 = a * a;
    float gv = ndl * sqrt(ndv * ndv * (1.0 - a2) + a2);
    float gl = ndv * sqrt(ndl * ndl * (1.0 - a2) + a2);
    return 0.5 / max(gv + gl, 1e-5);
}

// An ordered 4x4 dither threshold in (0, 1) for a wall pixel.
float dither(vec2 cell) {
    ivec2 q = ivec2(mod(cell, 4.0));
    int m[16] = int[16](0, 8, 2, 10, 12, 4, 14, 6, 3, 11, 1, 9, 15, 7, 13, 5);
    return (float(m[q.y * 4 + q.x]) + 0.5) / 16.0;
}

void main() {
    if (u_dissolve.y != 0.0) {
        bool shows_new = dither(floor(u_wall_px.xy + gl_FragCoord.xy * u_wall_px.zw))
                         < u_dissolve.x;
        if (shows_new != (u_dissolve.y > 0.0)) discard;
    }
    // MASK is the state's alpha test, BLEND its transparency; OPAQUE has neither
    vec4 base = p3d_Material.baseColor * texture(p3d_TextureModulate, v_uv) * v_color;
    vec4 mr = texture(p3d_TextureSelector, v_uv);
    float metal = clamp(p3d_Material.metallic * mr.b, 0.0, 1.0);
    float rough = clamp(p3d_Material.roughness * mr.g, 0.04, 1.0);
    float a = rough * rough;

    vec3 N = normalize(v_normal);
    vec3 p = v_world;
    vec3 T, B;
    if (dot(v_tangent.xyz, v_tangent.xyz) > 1e-6) {
        T = normalize(v_tangent.xyz - N * dot(N, v_tangent.xyz));
        B = cross(N, T) * (v_tangent.w < 0.0 ? -1.0 : 1.0);
    } else {
        // cotangent frame from screen-space derivatives of position and UV
        vec3 dp1 = dFdx(p), dp2 = dFdy(p);
        vec2 du1 = dFdx(v_uv), du2 = dFdy(v_uv);
        vec3 dp2perp = cross(dp2, N), dp1perp = cross(N, dp1);
        T = dp2perp * du1.x + dp1perp * du2.x;
        B = dp2perp * du1.y + dp1perp * du2.y;
        float m = max(dot(T, T), dot(B, B));
        float inv = m > 1e-20 ? inversesqrt(m) : 0.0;
        T *= inv;
        B *= inv;
    }
    if (!gl_FrontFacing) {
        N = -N;                                          // double-sided: the back face
        T = -T;
        B = -B;
    }
    vec3 nt = texture(p3d_TextureNormal, v_uv).xyz * 2.0 - 1.0;
    vec3 Nm = normalize(T * nt.x + B * nt.y + N * max(nt.z, 1e-3));
    N = dot(Nm, Nm) > 0.5 ? Nm : N;

    vec3 V = normalize(u_cam - p);
    float ndv = clamp(dot(N, V), 1e-3, 1.0);
    vec3 c_diff = base.rgb * (1.0 - metal);
    vec3 f0 = mix(vec3(0.04), base.rgb, metal);
    float ao = texture(p3d_TextureGloss, v_uv).r;

    vec3 color = vec3(0.0);
    vec3 dirs[3] = vec3[3](u_key_dir, u_fill_dir, u_rim_dir);
    vec3 cols[3] = vec3[3](KEY, FILL, RIM);
    for (int i = 0; i < 3; ++i) {
        vec3 L = dirs[i];
        float ndl = max(dot(N, L), 0.0);
        if (ndl <= 0.0) {
            continue;
        }
        vec3 H = normalize(L + V);
        float vdh = max(dot(V, H), 0.0);
        vec3 F = f0 + (1.0 - f0) * pow(1.0 - vdh, 5.0);
        vec3 spec = F * ggx(max(dot(N, H), 0.0), a) * smith_ggx(ndl, ndv, a);
        color += cols[i] * ndl * ((1.0 - F) * c_diff / PI + spec);
    }
    // image-based light from the gallery: diffuse irradiance and prefiltered specular
    vec2 ab = env_brdf(rough, ndv);
    vec3 spec_ibl = gallery(reflect(-V, N), a * 1.5, 1.0) * (f0 * ab.x + ab.y);
    vec3 diff_ibl = gallery(N, 1.2, 0.2) * c_diff;
    color += (diff_ibl + spec_ibl) * ao;
    // the rim light grazes the silhouette from behind
    float edge = pow(1.0 - ndv, 3.0);
    color += RIM * 0.18 * edge * max(dot(N, u_rim_dir) + 0.3, 0.0) * (c_diff + f0) * ao;
    color += p3d_Material.emission.rgb * texture(p3d_TextureEmission, v_uv).rgb;
    o_color = vec4(to_display(color), base.a);
}
