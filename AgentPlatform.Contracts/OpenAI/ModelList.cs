using System.Text.Json.Serialization;

namespace AgentPlatform.Contracts.OpenAI;

/// <summary>OpenAI's model list (<c>GET /v1/models</c>): the Router's model groups, or those a key may call.</summary>
public sealed record ModelList([property: JsonPropertyName("data")] IReadOnlyList<ModelEntry> Data)
{
    [JsonPropertyName("object")]
    public string Object => "list";
}

/// <summary>
/// One entry of OpenAI's model list: a model group of the platform, with the doors that answer it
/// (<c>endpoints</c>, the platform's addition: <c>/v1/chat/completions</c> or <c>/v1/embeddings</c>; the
/// SDKs ignore fields they do not know).
/// </summary>
public sealed record ModelEntry(
    [property: JsonPropertyName("id")] string Id,
    [property: JsonPropertyName("created")] long Created = 0,
    [property: JsonPropertyName("owned_by")] string OwnedBy = "agentplatform",
    [property: JsonPropertyName("endpoints"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] IReadOnlyList<string>? Endpoints = null)
{
    [JsonPropertyName("object")]
    public string Object => "model";
}
