using System.Text.Json;
using System.Text.Json.Nodes;
using AgentPlatform.Contracts.OpenAI;
using Microsoft.Extensions.Options;

namespace AgentPlatform.Simulator.Completions;

/// <summary>
/// Anthropic's Messages API (<c>POST /v1/messages</c>): the request is read in Anthropic's shape —
/// with its rules: <c>anthropic-version</c> and <c>max_tokens</c> required, roles user and assistant
/// only — restated as a chat request for the same generator, and answered in Anthropic's format.
/// </summary>
public static class AnthropicMessagesApi
{
    public static IEndpointRouteBuilder MapAnthropicMessagesApi(this IEndpointRouteBuilder app)
    {
        app.MapPost("/v1/messages", CreateMessageAsync)
            .WithTags("Anthropic")
            .WithName("CreateMessage")
            .WithSummary("Answers in Anthropic's Messages format, as JSON or as its stream events.");
        return app;
    }

    private static Task CreateMessageAsync(HttpContext context, SimulatedCall call, CompletionGenerator generator, IOptionsMonitor<SimulatorOptions> options)
    {
        var wire = AnthropicWire.Instance;
        if (!SimulatorAuth.IsAuthorized(context, options.CurrentValue, "x-api-key", ""))
        {
            return wire.WriteErrorAsync(context, StatusCodes.Status401Unauthorized, "invalid x-api-key", OpenAIError.Authentication);
        }
        if (string.IsNullOrEmpty(context.Request.Headers["anthropic-version"]))
        {
            return wire.WriteErrorAsync(context, StatusCodes.Status400BadRequest, "anthropic-version: header is required", OpenAIError.InvalidRequest);
        }
        return call.AnswerAsync(context, wire, body =>
        {
            var (chat, error) = ToChatRequest(body.Span);
            if (chat is null)
            {
                return (null, error);
            }
            var (completion, refusal) = generator.Generate(chat);
            // Anthropic writes to its prompt cache only where the request marks a breakpoint.
            return completion is not null && body.Span.IndexOf("\"cache_control\""u8) < 0 ? (completion with { CacheWriteTokens = 0 }, refusal) : (completion, refusal);
        });
    }

    /// <summary>The Messages request restated as a chat completion request, or what is wrong with it.</summary>
    public static (byte[]? Chat, string? Error) ToChatRequest(ReadOnlySpan<byte> body)
    {
        JsonObject request;
        try
        {
            request = JsonNode.Parse(body) as JsonObject ?? throw new JsonException();
        }
        catch (JsonException)
        {
            return (null, "The request body must be a JSON object.");
        }
        if (request["max_tokens"] is not JsonValue maxTokens || !maxTokens.TryGetValue<int>(out var max) || max < 1)
        {
            return (null, "max_tokens: Field required (an integer >= 1)");
        }
        if (request["messages"] is not JsonArray turns)
        {
            return (null, "messages: Field required");
        }

        var messages = new JsonArray();
        if (request["system"] is { } system)
        {
            messages.Add(new JsonObject { ["role"] = "system", ["content"] = Text(system) });
        }
        for (var i = 0; i < turns.Count; i++)
        {
            var role = turns[i]?["role"]?.GetValue<string>();
            if (role is not ("user" or "assistant"))
            {
                return (null, $"messages.{i}.role: Input should be 'user' or 'assistant'");
            }
            if (i > 0 && turns[i - 1]?["role"]?.GetValue<string>() == role)
            {
                return (null, $"messages.{i}: roles must alternate between 'user' and 'assistant'");
            }
            var content = turns[i]!["content"];
            if (role == "assistant")
            {
                var message = new JsonObject { ["role"] = "assistant", ["content"] = Text(content) };
                var calls = Blocks(content, "tool_use").Select(b => (JsonNode?)new JsonObject
                {
                    ["id"] = b["id"]?.GetValue<string>(),
                    ["type"] = "function",
                    ["function"] = new JsonObject { ["name"] = b["name"]?.GetValue<string>(), ["arguments"] = b["input"]?.ToJsonString() ?? "{}" },
                }).ToArray();
                if (calls.Length > 0)
                {
                    message["tool_calls"] = new JsonArray(calls);
                }
                messages.Add(message);
                continue;
            }
            foreach (var result in Blocks(content, "tool_result"))
            {
                messages.Add(new JsonObject { ["role"] = "tool", ["tool_call_id"] = result["tool_use_id"]?.GetValue<string>(), ["content"] = Text(result["content"]) });
            }
            if (Text(content) is { Length: > 0 } text)
            {
                messages.Add(new JsonObject { ["role"] = "user", ["content"] = text });
            }
        }

        var chat = new JsonObject
        {
            ["model"] = request["model"]?.DeepClone(),
            ["messages"] = messages,
            ["max_tokens"] = max,
            ["stream"] = request["stream"]?.DeepClone(),
        };
        if (request["tools"] is JsonArray tools)
        {
            chat["tools"] = new JsonArray(tools.Select(t => (JsonNode?)new JsonObject
            {
                ["type"] = "function",
                ["function"] = new JsonObject
                {
                    ["name"] = t?["name"]?.DeepClone(),
                    ["description"] = t?["description"]?.DeepClone(),
                    ["parameters"] = t?["input_schema"]?.DeepClone(),
                },
            }).ToArray());
        }
        chat["tool_choice"] = request["tool_choice"]?["type"]?.GetValue<string>() switch
        {
            "any" => "required",
            "none" => "none",
            "tool" => new JsonObject { ["type"] = "function", ["function"] = new JsonObject { ["name"] = request["tool_choice"]!["name"]?.DeepClone() } },
            _ => null,
        };
        return (JsonSerializer.SerializeToUtf8Bytes(chat), null);
    }

    private static IEnumerable<JsonNode> Blocks(JsonNode? content, string type) =>
        content is JsonArray blocks ? blocks.Where(b => b?["type"]?.GetValue<string>() == type).Select(b => b!) : [];

    /// <summary>The text of a string or of the text blocks of a content array.</summary>
    private static string Text(JsonNode? content) => content switch
    {
        JsonValue value when value.GetValueKind() == JsonValueKind.String => value.GetValue<string>(),
        JsonArray => string.Join("\n", Blocks(content, "text").Select(b => b["text"]?.GetValue<string>() ?? "")),
        _ => "",
    };
}
