// Artifacts (glTF models): world-space position, normal and tangent, COLOR_0, and the UV
// of the material's first texture stage through its texture matrix (KHR_texture_transform);
// see scenes/_materials.py.
uniform mat4 p3d_ModelViewProjectionMatrix;
uniform mat4 p3d_ModelMatrix;
uniform mat4 p3d_TextureMatrix;
in vec4 p3d_Vertex;
in vec3 p3d_Normal;
in vec4 p3d_Tangent;
in vec4 p3d_Color;
in vec2 p3d_MultiTexCoord0;
out vec3 v_world;
out vec3 v_normal;
out vec4 v_tangent;
out vec4 v_color;
out vec2 v_uv;

void main() {
    mat3 m = mat3(p3d_ModelMatrix);
    v_world = (p3d_ModelMatrix * p3d_Vertex).xyz;
    v_normal = m * p3d_Normal;       // rotations and uniform scales only
    v_tangent = vec4(m * p3d_Tangent.xyz, p3d_Tangent.w);
    v_color = p3d_Color;
    v_uv = (p3d_TextureMatrix * vec4(p3d_MultiTexCoord0, 0.0, 1.0)).xy;
    gl_Position = p3d_ModelViewProjectionMatrix * p3d_Vertex;
}
