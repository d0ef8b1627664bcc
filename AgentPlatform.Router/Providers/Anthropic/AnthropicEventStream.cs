using System.Buffers;
using System.Text.Json;
using AgentPlatform.Contracts.Anthropic;
using AgentPlatform.Contracts.OpenAI;

namespace AgentPlatform.Router.Providers.Anthropic;

/// <summary>
/// Reads Anthropic's streaming events and gives OpenAI's chunk stream: <c>message_start</c> becomes the
/// role chunk, text deltas content chunks, <c>tool_use</c> blocks and their JSON deltas tool-call
/// chunks, <c>message_delta</c> the chunk with the finish reason, and <c>message_stop</c> the usage
/// chunk (when the client asked for it) and <c>[DONE]</c>. An <c>error</c> event becomes OpenAI's
/// error event. Reads pass their cancellation to the provider's stream, so the Router's idle timeout
/// still applies.
/// </summary>
internal sealed class AnthropicEventStream(Stream inner, bool includeUsage, long created) : TranslatedEventStream(inner)
{
    private string _id = "";
    private string _model = "";
    private AnthropicUsage _usage;
    /// <summary>OpenAI's tool-call index for each Anthropic content block that is a tool use.</summary>
    private readonly Dictionary<int, int> _toolCallIndex = [];

    /// <summary>One event: its <c>data:</c> line carries the JSON, whose <c>type</c> names the event.</summary>
    protected override void Translate(ReadOnlySpan<byte> data)
    {
        using var document = JsonDocument.Parse(data.ToArray());
        Translate(document.RootElement);
    }

    private void Translate(JsonElement data)
    {
        switch (JsonFields.String(data, "type"))
        {
            case "message_start":
                var message = data.GetProperty("message");
                _id = JsonFields.String(message, "id") ?? "";
                _model = JsonFields.String(message, "model") ?? "";
                if (message.TryGetProperty("usage", out var startUsage))
                {
                    _usage = AnthropicUsage.From(startUsage);
                }
                WriteChunk(0, static (w, _) => { w.WriteString("role", "assistant"); w.WriteString("content", ""); }, finishReason: null);
                break;
            case "content_block_start" when data.GetProperty("content_block") is var block && JsonFields.String(block, "type") == "tool_use":
                var index = _toolCallIndex.Count;
                _toolCallIndex[data.GetProperty("index").GetInt32()] = index;
                var id = JsonFields.String(block, "id");
                var name = JsonFields.String(block, "name");
                WriteChunk((index, id, name, ""), WriteToolCall, finishReason: null);
                break;
            case "content_block_delta":
                var delta = data.GetProperty("delta");
                switch (JsonFields.String(delta, "type"))
                {
                    case "text_delta":
                        var text = JsonFields.String(delta, "text");
                        WriteChunk(text, static (w, text) => w.WriteString("content", text), finishReason: null);
                        break;
                    case "input_json_delta" when _toolCallIndex.TryGetValue(data.GetProperty("index").GetInt32(), out var toolIndex):
                        var json = JsonFields.String(delta, "partial_json") ?? "";
                        WriteChunk((toolIndex, (string?)null, (string?)null, json), WriteToolCall, finishReason: null);
                        break;
                }
                break;
            case "message_delta":
                if (data.TryGetProperty("usage", out var deltaUsage))
                {
                    _usage = _usage.Merge(deltaUsage);
                }
                var stopReason = data.TryGetProperty("delta", out var messageDelta) ? JsonFields.String(messageDelta, "stop_reason") : null;
                WriteChunk(0, static (_, _) => { }, AnthropicAnswerTranslator.FinishReason(stopReason) ?? "stop");
                break;
            case "message_stop":
                if (includeUsage)
                {
                    WriteUsageChunk();
                }
                Output.Write(ChatCompletionJson.Done);
                break;
            case "error":
                var error = data.TryGetProperty("error", out var e) ? e : data;
                OpenAIError.WriteEvent(Output,
                    JsonFields.String(error, "message") ?? "The provider's stream failed.",
                    JsonFields.String(error, "type") ?? "api_error",
                    JsonFields.String(error, "type"));
                break;
            // ping, content_block_start of text, content_block_stop: nothing to say in OpenAI's format.
        }
    }

    private void WriteChunk<TState>(TState state, Action<Utf8JsonWriter, TState> writeDelta, string? finishReason)
    {
        ChatCompletionJson.BeginEvent(Output, Writer);
        ChatCompletionJson.WriteChunkHeader(Writer, _id, created, _model);
        ChatCompletionJson.WriteChoiceDelta(Writer, 0, state, writeDelta, finishReason);
        ChatCompletionJson.EndEvent(Output, Writer);
    }

    private void WriteUsageChunk()
    {
        ChatCompletionJson.BeginEvent(Output, Writer);
        ChatCompletionJson.WriteChunkHeader(Writer, _id, created, _model);
        ChatCompletionJson.WriteNoChoices(Writer);
        AnthropicAnswerTranslator.WriteUsage(Writer, _usage);
        ChatCompletionJson.EndEvent(Output, Writer);
    }

    /// <summary>A stream's one tool-call piece: <c>"tool_calls":[{…}]</c>.</summary>
    private static void WriteToolCall(Utf8JsonWriter writer, (int Index, string? Id, string? Name, string Arguments) call)
    {
        writer.WriteStartArray("tool_calls");
        ChatCompletionJson.WriteToolCall(writer, call.Index, call.Id, call.Name, call.Arguments);
        writer.WriteEndArray();
    }
}
