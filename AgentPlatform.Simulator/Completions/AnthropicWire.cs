using System.Buffers;
using System.Text.Json;

namespace AgentPlatform.Simulator.Completions;

/// <summary>
/// Anthropic's Messages API format: a <c>message</c> object, <c>{"type":"error",...}</c> errors, and
/// the named stream events (<c>message_start</c>, <c>content_block_start</c>, <c>content_block_delta</c>,
/// <c>content_block_stop</c>, <c>message_delta</c>, <c>message_stop</c>).
/// </summary>
public sealed class AnthropicWire : ICompletionWire
{
    public static readonly AnthropicWire Instance = new();

    public async Task WriteErrorAsync(HttpContext context, int status, string message, string type, string? code = null)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json";
        using (var writer = new Utf8JsonWriter(context.Response.BodyWriter))
        {
            writer.WriteStartObject();
            writer.WriteString("type", "error");
            writer.WriteStartObject("error");
            writer.WriteString("type", ErrorType(type));
            writer.WriteString("message", message);
            writer.WriteEndObject();
            writer.WriteEndObject();
        }
        await context.Response.BodyWriter.FlushAsync(context.RequestAborted);
    }

    public void WriteJson(IBufferWriter<byte> output, SimulatedCompletion completion)
    {
        using var writer = new Utf8JsonWriter(output);
        writer.WriteStartObject();
        writer.WriteString("id", MessageId(completion));
        writer.WriteString("type", "message");
        writer.WriteString("role", "assistant");
        writer.WriteString("model", completion.Model);
        writer.WriteStartArray("content");
        if (completion.ToolCall is { } call)
        {
            writer.WriteStartObject();
            writer.WriteString("type", "tool_use");
            writer.WriteString("id", ToolUseId(call));
            writer.WriteString("name", call.Name);
            writer.WritePropertyName("input");
            writer.WriteRawValue(call.Arguments);
            writer.WriteEndObject();
        }
        else
        {
            writer.WriteStartObject();
            writer.WriteString("type", "text");
            writer.WriteString("text", completion.Content);
            writer.WriteEndObject();
        }
        writer.WriteEndArray();
        writer.WriteString("stop_reason", StopReason(completion));
        writer.WriteNull("stop_sequence");
        WriteUsage(writer, completion, completion.CompletionTokens);
        writer.WriteEndObject();
    }

    public void WriteStart(IBufferWriter<byte> output, SimulatedCompletion completion)
    {
        WriteEvent(output, "message_start", completion, static (writer, completion) =>
        {
            writer.WriteStartObject("message");
            writer.WriteString("id", MessageId(completion));
            writer.WriteString("type", "message");
            writer.WriteString("role", "assistant");
            writer.WriteString("model", completion.Model);
            writer.WriteStartArray("content");
            writer.WriteEndArray();
            writer.WriteNull("stop_reason");
            writer.WriteNull("stop_sequence");
            WriteUsage(writer, completion, outputTokens: 1);
            writer.WriteEndObject();
        });
        WriteEvent(output, "content_block_start", completion, static (writer, completion) =>
        {
            writer.WriteNumber("index", 0);
            writer.WriteStartObject("content_block");
            if (completion.ToolCall is { } call)
            {
                writer.WriteString("type", "tool_use");
                writer.WriteString("id", ToolUseId(call));
                writer.WriteString("name", call.Name);
                writer.WriteStartObject("input");
                writer.WriteEndObject();
            }
            else
            {
                writer.WriteString("type", "text");
                writer.WriteString("text", "");
            }
            writer.WriteEndObject();
        });
        WriteEvent(output, "ping", completion, static (_, _) => { });
    }

    public void WriteToolCall(IBufferWriter<byte> output, SimulatedCompletion completion) =>
        WriteEvent(output, "content_block_delta", completion, static (writer, completion) =>
        {
            writer.WriteNumber("index", 0);
            writer.WriteStartObject("delta");
            writer.WriteString("type", "input_json_delta");
            writer.WriteString("partial_json", completion.ToolCall!.Arguments);
            writer.WriteEndObject();
        });

    public void WriteToken(IBufferWriter<byte> output, SimulatedCompletion completion, int token) =>
        WriteEvent(output, "content_block_delta", (completion, token), static (writer, state) =>
        {
            writer.WriteNumber("index", 0);
            writer.WriteStartObject("delta");
            writer.WriteString("type", "text_delta");
            writer.WriteString("text", state.completion.Tokens[state.token]);
            writer.WriteEndObject();
        });

    public void WriteEnd(IBufferWriter<byte> output, SimulatedCompletion completion)
    {
        WriteEvent(output, "content_block_stop", completion, static (writer, _) => writer.WriteNumber("index", 0));
        WriteEvent(output, "message_delta", completion, static (writer, completion) =>
        {
            writer.WriteStartObject("delta");
            writer.WriteString("stop_reason", StopReason(completion));
            writer.WriteNull("stop_sequence");
            writer.WriteEndObject();
            writer.WriteStartObject("usage");
            writer.WriteNumber("output_tokens", completion.CompletionTokens);
            writer.WriteEndObject();
        });
        WriteEvent(output, "message_stop", completion, static (_, _) => { });
    }

    /// <summary><c>event: {name}</c> and <c>data: {"type": name, ...}</c>, as Anthropic sends each.</summary>
    private static void WriteEvent<TState>(IBufferWriter<byte> output, string name, TState state, Action<Utf8JsonWriter, TState> writeBody)
    {
        output.Write("event: "u8);
        output.Write(System.Text.Encoding.UTF8.GetBytes(name));
        output.Write("\ndata: "u8);
        using (var writer = new Utf8JsonWriter(output))
        {
            writer.WriteStartObject();
            writer.WriteString("type", name);
            writeBody(writer, state);
            writer.WriteEndObject();
        }
        output.Write("\n\n"u8);
    }

    private static void WriteUsage(Utf8JsonWriter writer, SimulatedCompletion completion, int outputTokens)
    {
        writer.WriteStartObject("usage");
        // Anthropic counts input tokens apart from those read from its cache and written to it.
        writer.WriteNumber("input_tokens", completion.PromptTokens - completion.CachedTokens - completion.CacheWriteTokens);
        writer.WriteNumber("cache_creation_input_tokens", completion.CacheWriteTokens);
        writer.WriteNumber("cache_read_input_tokens", completion.CachedTokens);
        writer.WriteNumber("output_tokens", outputTokens);
        writer.WriteEndObject();
    }

    private static string StopReason(SimulatedCompletion completion) => completion.FinishReason switch
    {
        "length" => "max_tokens",
        "tool_calls" => "tool_use",
        _ => "end_turn",
    };

    private static string MessageId(SimulatedCompletion completion) => "msg_" + completion.Id["chatcmpl-".Length..];

    private static string ToolUseId(SimulatedToolCall call) => "toolu_" + call.Id["call_".Length..];

    /// <summary>Anthropic's error types for the simulator's OpenAI ones.</summary>
    private static string ErrorType(string openAIType) => openAIType switch
    {
        "server_error" => "api_error",
        _ => openAIType, // invalid_request_error, authentication_error, rate_limit_error are the same words
    };
}
