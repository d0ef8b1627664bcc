using System.Buffers;
using System.Text;
using System.Text.Json;

namespace AgentPlatform.Simulator.Completions;

/// <summary>
/// The Responses API's format: a <c>response</c> object (a <c>message</c> output item, or a <c>function_call</c>
/// one; a <c>reasoning</c> item first when the request asked for reasoning), OpenAI's errors, and the stream
/// events, each with its <c>sequence_number</c>: <c>response.created</c>, <c>response.in_progress</c>, the item's
/// events, and <c>response.completed</c> (<c>response.incomplete</c> at the token limit) with the usage.
/// </summary>
public sealed class ResponsesWire : ICompletionWire
{
    public static readonly ResponsesWire Instance = new();

    /// <summary>The events before the item's first delta: created, in progress, item added (and, for text, its part added).</summary>
    private static int StartEvents(SimulatedCompletion completion) => completion.ToolCall is null ? 4 : 3;

    public Task WriteErrorAsync(HttpContext context, int status, string message, string type, string? code = null) =>
        Contracts.OpenAI.OpenAIError.WriteAsync(context, status, message, type, code);

    public void WriteJson(IBufferWriter<byte> output, SimulatedCompletion completion)
    {
        using var writer = new Utf8JsonWriter(output);
        WriteResponse(writer, completion, final: true);
    }

    public void WriteStart(IBufferWriter<byte> output, SimulatedCompletion completion)
    {
        WriteEvent(output, "response.created", 0, completion, static (w, c) => { w.WritePropertyName("response"); WriteResponse(w, c, final: false); });
        WriteEvent(output, "response.in_progress", 1, completion, static (w, c) => { w.WritePropertyName("response"); WriteResponse(w, c, final: false); });
        WriteEvent(output, "response.output_item.added", 2, completion, static (w, c) =>
        {
            w.WriteNumber("output_index", OutputIndex(c));
            w.WritePropertyName("item");
            WriteItem(w, c, final: false);
        });
        if (completion.ToolCall is null)
        {
            WriteEvent(output, "response.content_part.added", 3, completion, static (w, c) =>
            {
                WritePointer(w, c);
                w.WritePropertyName("part");
                WriteTextPart(w, "");
            });
        }
    }

    public void WriteToolCall(IBufferWriter<byte> output, SimulatedCompletion completion) =>
        WriteEvent(output, "response.function_call_arguments.delta", StartEvents(completion), completion, static (w, c) =>
        {
            w.WriteString("item_id", ItemId(c));
            w.WriteNumber("output_index", OutputIndex(c));
            w.WriteString("delta", c.ToolCall!.Arguments);
        });

    public void WriteToken(IBufferWriter<byte> output, SimulatedCompletion completion, int token) =>
        WriteEvent(output, "response.output_text.delta", StartEvents(completion) + token, (completion, token), static (w, state) =>
        {
            WritePointer(w, state.completion);
            w.WriteString("delta", state.completion.Tokens[state.token]);
        });

    public void WriteEnd(IBufferWriter<byte> output, SimulatedCompletion completion)
    {
        var sequence = StartEvents(completion) + (completion.ToolCall is null ? completion.Tokens.Count : 1);
        if (completion.ToolCall is null)
        {
            WriteEvent(output, "response.output_text.done", sequence++, completion, static (w, c) => { WritePointer(w, c); w.WriteString("text", c.Content); });
            WriteEvent(output, "response.content_part.done", sequence++, completion, static (w, c) =>
            {
                WritePointer(w, c);
                w.WritePropertyName("part");
                WriteTextPart(w, c.Content);
            });
        }
        else
        {
            WriteEvent(output, "response.function_call_arguments.done", sequence++, completion, static (w, c) =>
            {
                w.WriteString("item_id", ItemId(c));
                w.WriteNumber("output_index", OutputIndex(c));
                w.WriteString("arguments", c.ToolCall!.Arguments);
            });
        }
        WriteEvent(output, "response.output_item.done", sequence++, completion, static (w, c) =>
        {
            w.WriteNumber("output_index", OutputIndex(c));
            w.WritePropertyName("item");
            WriteItem(w, c, final: true);
        });
        WriteEvent(output, Status(completion) == "completed" ? "response.completed" : "response.incomplete", sequence, completion, static (w, c) =>
        {
            w.WritePropertyName("response");
            WriteResponse(w, c, final: true);
        });
    }

    private static void WriteResponse(Utf8JsonWriter writer, SimulatedCompletion completion, bool final)
    {
        writer.WriteStartObject();
        writer.WriteString("id", "resp_" + Suffix(completion));
        writer.WriteString("object", "response");
        writer.WriteNumber("created_at", completion.Created);
        writer.WriteString("status", final ? Status(completion) : "in_progress");
        writer.WriteNull("error");
        if (final && Status(completion) == "incomplete")
        {
            writer.WriteStartObject("incomplete_details");
            writer.WriteString("reason", "max_output_tokens");
            writer.WriteEndObject();
        }
        else
        {
            writer.WriteNull("incomplete_details");
        }
        writer.WriteString("model", completion.Model);
        writer.WriteStartArray("output");
        if (final)
        {
            if (completion.ReasoningTokens > 0)
            {
                writer.WriteStartObject();
                writer.WriteString("type", "reasoning");
                writer.WriteString("id", "rs_" + Suffix(completion));
                writer.WriteStartArray("summary");
                writer.WriteEndArray();
                writer.WriteEndObject();
            }
            WriteItem(writer, completion, final: true);
        }
        writer.WriteEndArray();
        writer.WriteBoolean("parallel_tool_calls", true);
        writer.WriteBoolean("store", completion.Store);
        if (final)
        {
            writer.WriteStartObject("usage");
            writer.WriteNumber("input_tokens", completion.PromptTokens);
            writer.WriteStartObject("input_tokens_details");
            writer.WriteNumber("cached_tokens", completion.CachedTokens);
            writer.WriteEndObject();
            // Reasoning is billed as output: part of output_tokens, told apart in the details.
            writer.WriteNumber("output_tokens", completion.CompletionTokens + completion.ReasoningTokens);
            writer.WriteStartObject("output_tokens_details");
            writer.WriteNumber("reasoning_tokens", completion.ReasoningTokens);
            writer.WriteEndObject();
            writer.WriteNumber("total_tokens", completion.PromptTokens + completion.CompletionTokens + completion.ReasoningTokens);
            writer.WriteEndObject();
        }
        else
        {
            writer.WriteNull("usage");
        }
        writer.WriteEndObject();
    }

    /// <summary>The answer's output item: the message with its text, or the function call (empty while in progress).</summary>
    private static void WriteItem(Utf8JsonWriter writer, SimulatedCompletion completion, bool final)
    {
        writer.WriteStartObject();
        if (completion.ToolCall is { } call)
        {
            writer.WriteString("type", "function_call");
            writer.WriteString("id", ItemId(completion));
            writer.WriteString("call_id", call.Id);
            writer.WriteString("name", call.Name);
            writer.WriteString("arguments", final ? call.Arguments : "");
        }
        else
        {
            writer.WriteString("type", "message");
            writer.WriteString("id", ItemId(completion));
            writer.WriteString("role", "assistant");
            writer.WriteStartArray("content");
            if (final)
            {
                WriteTextPart(writer, completion.Content);
            }
            writer.WriteEndArray();
        }
        writer.WriteString("status", final ? "completed" : "in_progress");
        writer.WriteEndObject();
    }

    private static void WriteTextPart(Utf8JsonWriter writer, string text)
    {
        writer.WriteStartObject();
        writer.WriteString("type", "output_text");
        writer.WriteString("text", text);
        writer.WriteStartArray("annotations");
        writer.WriteEndArray();
        writer.WriteEndObject();
    }

    /// <summary>Where a text event belongs: the message item, its output index, its one content part.</summary>
    private static void WritePointer(Utf8JsonWriter writer, SimulatedCompletion completion)
    {
        writer.WriteString("item_id", ItemId(completion));
        writer.WriteNumber("output_index", OutputIndex(completion));
        writer.WriteNumber("content_index", 0);
    }

    /// <summary><c>event: {type}</c> and <c>data: {"type": type, "sequence_number": n, ...}</c>.</summary>
    private static void WriteEvent<TState>(IBufferWriter<byte> output, string type, int sequence, TState state, Action<Utf8JsonWriter, TState> writeBody)
    {
        output.Write("event: "u8);
        output.Write(Encoding.UTF8.GetBytes(type));
        output.Write("\ndata: "u8);
        using (var writer = new Utf8JsonWriter(output))
        {
            writer.WriteStartObject();
            writer.WriteString("type", type);
            writer.WriteNumber("sequence_number", sequence);
            writeBody(writer, state);
            writer.WriteEndObject();
        }
        output.Write("\n\n"u8);
    }

    /// <summary>The answer's item follows the reasoning item when there is one.</summary>
    private static int OutputIndex(SimulatedCompletion completion) => completion.ReasoningTokens > 0 ? 1 : 0;

    private static string ItemId(SimulatedCompletion completion) => (completion.ToolCall is null ? "msg_" : "fc_") + Suffix(completion);

    private static string Suffix(SimulatedCompletion completion) => completion.Id["chatcmpl-".Length..];

    private static string Status(SimulatedCompletion completion) => completion.FinishReason == "length" ? "incomplete" : "completed";
}
