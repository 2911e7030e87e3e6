// Artifacts (glTF models): world-space position, normal and tangent, COLOR_0, and one UV
// per material texture slot, each through its own stage's UV set and texture matrix
// (KHR_texture_transform). Slots as in scenes/_materials.py.
uniform mat4 p3d_ModelViewProjectionMatrix;
uniform mat4 p3d_ModelMatrix;
uniform mat4 p3d_TextureMatrix[5];
in vec4 p3d_Vertex;
in vec3 p3d_Normal;
in vec4 p3d_Tangent;
in vec4 p3d_Color;
in vec2 p3d_MultiTexCoord0;
in vec2 p3d_MultiTexCoord1;
in vec2 p3d_MultiTexCoord2;
in vec2 p3d_MultiTexCoord3;
in vec2 p3d_MultiTexCoord4;
out vec3 v_world;
out vec3 v_normal;
out vec4 v_tangent;
out vec4 v_color;
out vec2 v_uv[5];

vec2 uv(int k, vec2 t) {
    return (p3d_TextureMatrix[k] * vec4(t, 0.0, 1.0)).xy;
}

void main() {
    mat3 m = mat3(p3d_ModelMatrix);
    v_world = (p3d_ModelMatrix * p3d_Vertex).xyz;
    v_normal = m * p3d_Normal;       // rotations and uniform scales only
    v_tangent = vec4(m * p3d_Tangent.xyz, p3d_Tangent.w);
    v_color = p3d_Color;
    v_uv[0] = uv(0, p3d_MultiTexCoord0);
    v_uv[1] = uv(1, p3d_MultiTexCoord1);
    v_uv[2] = uv(2, p3d_MultiTexCoord2);
    v_uv[3] = uv(3, p3d_MultiTexCoord3);
    v_uv[4] = uv(4, p3d_MultiTexCoord4);
    gl_Position = p3d_ModelViewProjectionMatrix * p3d_Vertex;
}
