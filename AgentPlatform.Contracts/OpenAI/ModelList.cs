using System.Text.Json.Serialization;

namespace AgentPlatform.Contracts.OpenAI;

/// <summary>OpenAI's model list (<c>GET /v1/models</c>): the Router's model groups, or those a key may call.</summary>
public sealed record ModelList([property: JsonPropertyName("data")] IReadOnlyList<ModelEntry> Data)
{
    [JsonPropertyName("object")]
    public string Object => "list";
}

/// <summary>One entry of OpenAI's model list: a model group of the platform.</summary>
public sealed record ModelEntry(
    [property: JsonPropertyName("id")] string Id,
    [property: JsonPropertyName("created")] long Created = 0,
    [property: JsonPropertyName("owned_by")] string OwnedBy = "agentplatform")
{
    [JsonPropertyName("object")]
    public string Object => "model";
}
