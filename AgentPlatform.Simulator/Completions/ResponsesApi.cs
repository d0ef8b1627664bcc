using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Options;

namespace AgentPlatform.Simulator.Completions;

/// <summary>
/// OpenAI's Responses API (<c>POST /v1/responses</c>, and Azure OpenAI's v1 shape <c>/openai/v1/responses</c>):
/// the request is read in the Responses shape, restated as a chat request for the same generator, and
/// answered as a response object or the Responses stream events. Like a provider reached through a
/// gateway that keeps conversations itself, it keeps none: <c>previous_response_id</c> is refused. A request
/// with <c>reasoning</c> (an effort other than <c>none</c>) is answered by a "reasoning model": a reasoning
/// item and <see cref="ReasoningTokens"/> more output tokens, so tests can see the setting arrived.
/// </summary>
public static class ResponsesApi
{
    public const int ReasoningTokens = 16;

    public static IEndpointRouteBuilder MapResponsesApi(this IEndpointRouteBuilder app)
    {
        app.MapPost("/v1/responses", CreateResponseAsync)
            .WithTags("OpenAI")
            .WithName("CreateResponse")
            .WithSummary("Answers in the Responses API's format, as a response object or as its stream events.");
        app.MapPost("/openai/v1/responses", CreateAzureResponseAsync)
            .WithTags("Azure OpenAI")
            .WithName("CreateAzureResponse")
            .WithSummary("The same answers at Azure OpenAI's v1 URL shape (the deployment in the body's model, an api-key header).");
        return app;
    }

    private static Task CreateResponseAsync(HttpContext context, SimulatedCall call, CompletionGenerator generator, IOptionsMonitor<SimulatorOptions> options) =>
        SimulatorAuth.RefuseOpenAI(context, options.CurrentValue) ?? AnswerAsync(context, call, generator);

    private static Task CreateAzureResponseAsync(HttpContext context, SimulatedCall call, CompletionGenerator generator, IOptionsMonitor<SimulatorOptions> options) =>
        SimulatorAuth.RefuseAzure(context, options.CurrentValue, requireApiVersion: false) ?? AnswerAsync(context, call, generator);

    private static Task AnswerAsync(HttpContext context, SimulatedCall call, CompletionGenerator generator) =>
        call.AnswerAsync(context, ResponsesWire.Instance, body =>
        {
            var (chat, reasoning, store, error) = ToChatRequest(body.Span);
            if (chat is null)
            {
                return (null, error);
            }
            var (completion, refusal) = generator.Generate(chat);
            return (completion is null ? null : completion with { ReasoningTokens = reasoning ? ReasoningTokens : 0, Store = store }, refusal);
        });

    /// <summary>The Responses request restated as a chat completion request (and whether it asks for reasoning, and to be stored), or what is wrong with it.</summary>
    public static (byte[]? Chat, bool Reasoning, bool Store, string? Error) ToChatRequest(ReadOnlySpan<byte> body)
    {
        JsonObject request;
        try
        {
            request = JsonNode.Parse(body) as JsonObject ?? throw new JsonException();
        }
        catch (JsonException)
        {
            return (null, false, false, "The request body must be a JSON object.");
        }
        if (request["previous_response_id"] is JsonValue previous && previous.GetValueKind() == JsonValueKind.String)
        {
            return (null, false, false, $"Previous response with id '{previous.GetValue<string>()}' not found.");
        }
        var messages = new JsonArray();
        if (request["instructions"] is JsonValue instructions && instructions.GetValueKind() == JsonValueKind.String)
        {
            messages.Add(new JsonObject { ["role"] = "system", ["content"] = instructions.GetValue<string>() });
        }
        switch (request["input"])
        {
            case JsonValue text when text.GetValueKind() == JsonValueKind.String:
                messages.Add(new JsonObject { ["role"] = "user", ["content"] = text.GetValue<string>() });
                break;
            case JsonArray items:
                foreach (var item in items)
                {
                    if (Message(item) is { } message)
                    {
                        messages.Add(message);
                    }
                }
                break;
            default:
                return (null, false, false, "Missing required parameter: 'input'.");
        }

        var chat = new JsonObject
        {
            ["model"] = request["model"]?.DeepClone(),
            ["messages"] = messages,
            ["max_tokens"] = request["max_output_tokens"]?.DeepClone(),
            ["stream"] = request["stream"]?.DeepClone(),
        };
        if (request["tools"] is JsonArray tools)
        {
            chat["tools"] = new JsonArray(tools.Where(t => t?["type"]?.GetValue<string>() == "function").Select(t => (JsonNode?)new JsonObject
            {
                ["type"] = "function",
                ["function"] = new JsonObject { ["name"] = t!["name"]?.DeepClone(), ["parameters"] = t["parameters"]?.DeepClone() },
            }).ToArray());
        }
        chat["tool_choice"] = request["tool_choice"] switch
        {
            JsonValue choice when choice.GetValueKind() == JsonValueKind.String => choice.GetValue<string>(),
            JsonObject { } choice => new JsonObject { ["type"] = "function", ["function"] = new JsonObject { ["name"] = choice["name"]?.DeepClone() } },
            _ => null,
        };
        var reasoning = request["reasoning"]?["effort"] is JsonValue effort && effort.GetValueKind() == JsonValueKind.String && effort.GetValue<string>() != "none";
        var store = request["store"]?.GetValueKind() != JsonValueKind.False;
        return (JsonSerializer.SerializeToUtf8Bytes(chat), reasoning, store, null);
    }

    /// <summary>One input item as a chat message: a message, a function call (an assistant's tool call) or its output (a tool message).</summary>
    private static JsonObject? Message(JsonNode? item) => (item?["type"]?.GetValue<string>() ?? "message") switch
    {
        "message" => new JsonObject { ["role"] = item?["role"]?.GetValue<string>() is "assistant" ? "assistant" : "user", ["content"] = Text(item?["content"]) },
        "function_call" => new JsonObject
        {
            ["role"] = "assistant",
            ["tool_calls"] = new JsonArray(new JsonObject
            {
                ["id"] = item!["call_id"]?.DeepClone(),
                ["type"] = "function",
                ["function"] = new JsonObject { ["name"] = item["name"]?.DeepClone(), ["arguments"] = item["arguments"]?.DeepClone() },
            }),
        },
        "function_call_output" => new JsonObject { ["role"] = "tool", ["tool_call_id"] = item!["call_id"]?.DeepClone(), ["content"] = Text(item["output"]) },
        _ => null, // reasoning items and the like say nothing the simulator answers from
    };

    /// <summary>The text of a string or of the text parts of a content array.</summary>
    private static string Text(JsonNode? content) => content switch
    {
        JsonValue value when value.GetValueKind() == JsonValueKind.String => value.GetValue<string>(),
        JsonArray parts => string.Join("\n", parts.Select(p => p?["text"] is JsonValue text && text.GetValueKind() == JsonValueKind.String ? text.GetValue<string>() : "")),
        _ => "",
    };
}
