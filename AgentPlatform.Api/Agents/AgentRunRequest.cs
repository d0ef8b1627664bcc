using System.Text.Json;
using AgentPlatform.Contracts.OpenAI;
using AgentPlatform.ServiceDefaults.Http;
using Microsoft.Extensions.AI;

namespace AgentPlatform.Api.Agents;

/// <summary>
/// The body of <c>POST /v1/agents/{name}/runs</c>: <c>input</c> (text) or <c>messages</c>
/// (<c>[{"role": "user", "content": "…"}]</c>), an optional <c>threadId</c> to continue, and
/// <c>stream</c>. Read by hand so that each mistake is named: the field, and what it should be.
/// </summary>
public sealed record AgentRunRequest(IReadOnlyList<ChatMessage> Messages, string? ThreadId, bool Stream)
{
    public const long MaxBodyBytes = 1024 * 1024;

    /// <summary>The request, or what is wrong with it; null for both when the body is over <see cref="MaxBodyBytes"/>, declared or not.</summary>
    public static async Task<(AgentRunRequest? Request, string? Problem)> ReadAsync(HttpContext context)
    {
        using var body = await PooledRequestBody.ReadOrDrainAsync(context, MaxBodyBytes);
        if (body is null)
        {
            return (null, null);
        }
        if (!JsonText.IsValid(body.Span))
        {
            return (null, "The body is not valid UTF-8 JSON text.");
        }
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(body.Memory);
        }
        catch (JsonException exception)
        {
            return (null, $"The body is not JSON: {exception.Message}");
        }
        using (document)
        {
            return Parse(document.RootElement);
        }
    }

    internal static (AgentRunRequest? Request, string? Problem) Parse(JsonElement body)
    {
        if (body.ValueKind != JsonValueKind.Object)
        {
            return (null, "The body must be a JSON object with 'input' or 'messages'.");
        }
        List<ChatMessage> messages = [];
        string? threadId = null;
        var stream = false;
        var hasInput = false;
        foreach (var field in body.EnumerateObject())
        {
            switch (field.Name)
            {
                case "input" when field.Value.ValueKind == JsonValueKind.String && field.Value.GetString() is { Length: > 0 } input:
                    messages.Add(new ChatMessage(ChatRole.User, input));
                    hasInput = true;
                    break;
                case "input":
                    return (null, "'input' must be a non-empty string.");
                case "messages" when field.Value.ValueKind == JsonValueKind.Array:
                    var index = 0;
                    foreach (var message in field.Value.EnumerateArray())
                    {
                        if (Message(message) is not { } parsed)
                        {
                            return (null, $"messages[{index}] must be {{\"role\": \"user\" | \"assistant\" | \"system\" | \"developer\", \"content\": \"text\"}}.");
                        }
                        messages.Add(parsed);
                        index++;
                    }
                    break;
                case "messages":
                    return (null, "'messages' must be an array of {\"role\", \"content\"} objects.");
                case "threadId" when field.Value.ValueKind == JsonValueKind.String:
                    threadId = field.Value.GetString();
                    break;
                case "threadId" when field.Value.ValueKind == JsonValueKind.Null:
                    break;
                case "threadId":
                    return (null, "'threadId' must be a string: the threadId of an earlier run.");
                case "stream" when field.Value.ValueKind is JsonValueKind.True or JsonValueKind.False:
                    stream = field.Value.GetBoolean();
                    break;
                case "stream":
                    return (null, "'stream' must be true or false.");
                default:
                    return (null, $"Unknown field '{field.Name}': a run takes 'input' or 'messages', 'threadId' and 'stream'.");
            }
        }
        if (hasInput && messages.Count > 1)
        {
            return (null, "Give 'input' or 'messages', not both.");
        }
        if (messages.Count == 0 || messages[^1].Role != ChatRole.User)
        {
            return (null, "A run needs something to answer: 'input', or 'messages' ending with a user message.");
        }
        return (new AgentRunRequest(messages, threadId, stream), null);
    }

    private static ChatMessage? Message(JsonElement message)
    {
        if (message.ValueKind != JsonValueKind.Object
            || !message.TryGetProperty("role", out var role) || role.ValueKind != JsonValueKind.String
            || !message.TryGetProperty("content", out var content) || content.ValueKind != JsonValueKind.String)
        {
            return null;
        }
        return role.GetString() switch
        {
            "user" => new ChatMessage(ChatRole.User, content.GetString()),
            "assistant" => new ChatMessage(ChatRole.Assistant, content.GetString()),
            "system" or "developer" => new ChatMessage(ChatRole.System, content.GetString()),
            _ => null,
        };
    }
}
