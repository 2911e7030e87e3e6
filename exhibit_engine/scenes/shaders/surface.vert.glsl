// Shared by the ice, snow-ground and glow shaders: world-space position, frame and UV.
uniform mat4 p3d_ModelViewProjectionMatrix;
uniform mat4 p3d_ModelMatrix;
in vec4 p3d_Vertex;
in vec3 p3d_Normal;
in vec4 p3d_Tangent;
in vec2 p3d_MultiTexCoord0;
in vec4 p3d_Color;
out vec3 v_world;
out vec3 v_normal;
out vec3 v_tangent;
out vec2 v_uv;
out vec4 v_color;

void main() {
    v_world = (p3d_ModelMatrix * p3d_Vertex).xyz;
    mat3 m = mat3(p3d_ModelMatrix);   // rotations and uniform scales only
    v_normal = m * p3d_Normal;
    v_tangent = m * p3d_Tangent.xyz;
    v_uv = p3d_MultiTexCoord0;
    v_color = p3d_Color;
    gl_Position = p3d_ModelViewProjectionMatrix * p3d_Vertex;
}
