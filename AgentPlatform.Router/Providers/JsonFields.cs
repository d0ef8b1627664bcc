using System.Text.Json;

namespace AgentPlatform.Router.Providers;

/// <summary>Reading the providers' answers, whatever their API: a string property, or null when absent or of another kind.</summary>
internal static class JsonFields
{
    public static string? String(JsonElement element, string name) =>
        element.ValueKind == JsonValueKind.Object && element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String
            ? value.GetString()
            : null;
}
