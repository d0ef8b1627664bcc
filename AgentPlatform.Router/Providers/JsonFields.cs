using System.Text.Json;
using System.Text.Json.Nodes;

namespace AgentPlatform.Router.Providers;

/// <summary>Reading requests and answers, whatever their API: a string, or null when absent or of another kind.</summary>
internal static class JsonFields
{
    public static string? String(JsonElement element, string name) =>
        element.ValueKind == JsonValueKind.Object && element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String
            ? value.GetString()
            : null;

    public static string? String(JsonNode? node) =>
        node is JsonValue value && value.GetValueKind() == JsonValueKind.String ? value.GetValue<string>() : null;
}
