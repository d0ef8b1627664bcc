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
internal sealed class AnthropicEventStream(Stream inner, bool includeUsage, long created) : ReadOnlyStream
{
    private const int ReadSize = 16 * 1024;

    private readonly ArrayBufferWriter<byte> _translated = new(ReadSize);
    /// <summary>One writer for the stream's chunks, reset onto <see cref="_translated"/> for each.</summary>
    private readonly Utf8JsonWriter _writer = new(Stream.Null);
    private byte[] _events = ArrayPool<byte>.Shared.Rent(ReadSize);
    private int _eventBytes;
    private int _translatedRead;
    private bool _innerEnded;

    private string _id = "";
    private string _model = "";
    private AnthropicUsage _usage;
    /// <summary>OpenAI's tool-call index for each Anthropic content block that is a tool use.</summary>
    private readonly Dictionary<int, int> _toolCallIndex = [];

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        while (_translatedRead == _translated.WrittenCount)
        {
            if (_innerEnded)
            {
                return 0;
            }
            _translated.ResetWrittenCount();
            _translatedRead = 0;
            if (_eventBytes == _events.Length)
            {
                Grow();
            }
            var read = await inner.ReadAsync(_events.AsMemory(_eventBytes), cancellationToken);
            if (read == 0)
            {
                _innerEnded = true; // a stream that ends without message_stop is left without [DONE]
                break;
            }
            _eventBytes += read;
            TranslateCompleteEvents();
        }
        var count = Math.Min(buffer.Length, _translated.WrittenCount - _translatedRead);
        _translated.WrittenSpan.Slice(_translatedRead, count).CopyTo(buffer.Span);
        _translatedRead += count;
        return count;
    }

    private void TranslateCompleteEvents()
    {
        var start = 0;
        while (true)
        {
            var rest = _events.AsSpan(start, _eventBytes - start);
            var end = rest.IndexOf("\n\n"u8);
            if (end < 0)
            {
                break;
            }
            TranslateEvent(rest[..end]);
            start += end + 2;
        }
        _events.AsSpan(start, _eventBytes - start).CopyTo(_events);
        _eventBytes -= start;
    }

    /// <summary>One event: its <c>data:</c> line carries the JSON, whose <c>type</c> names the event.</summary>
    private void TranslateEvent(ReadOnlySpan<byte> lines)
    {
        foreach (var range in lines.Split((byte)'\n'))
        {
            var line = lines[range].TrimEnd((byte)'\r');
            if (line.StartsWith("data:"u8))
            {
                using var document = JsonDocument.Parse(line[5..].ToArray());
                Translate(document.RootElement);
            }
        }
    }

    private void Translate(JsonElement data)
    {
        switch (AnthropicAnswerTranslator.String(data, "type"))
        {
            case "message_start":
                var message = data.GetProperty("message");
                _id = AnthropicAnswerTranslator.String(message, "id") ?? "";
                _model = AnthropicAnswerTranslator.String(message, "model") ?? "";
                if (message.TryGetProperty("usage", out var startUsage))
                {
                    _usage = AnthropicUsage.From(startUsage);
                }
                WriteChunk(0, static (w, _) => { w.WriteString("role", "assistant"); w.WriteString("content", ""); }, finishReason: null);
                break;
            case "content_block_start" when data.GetProperty("content_block") is var block && AnthropicAnswerTranslator.String(block, "type") == "tool_use":
                var index = _toolCallIndex.Count;
                _toolCallIndex[data.GetProperty("index").GetInt32()] = index;
                var id = AnthropicAnswerTranslator.String(block, "id");
                var name = AnthropicAnswerTranslator.String(block, "name");
                WriteChunk((index, id, name, ""), WriteToolCall, finishReason: null);
                break;
            case "content_block_delta":
                var delta = data.GetProperty("delta");
                switch (AnthropicAnswerTranslator.String(delta, "type"))
                {
                    case "text_delta":
                        var text = AnthropicAnswerTranslator.String(delta, "text");
                        WriteChunk(text, static (w, text) => w.WriteString("content", text), finishReason: null);
                        break;
                    case "input_json_delta" when _toolCallIndex.TryGetValue(data.GetProperty("index").GetInt32(), out var toolIndex):
                        var json = AnthropicAnswerTranslator.String(delta, "partial_json") ?? "";
                        WriteChunk((toolIndex, (string?)null, (string?)null, json), WriteToolCall, finishReason: null);
                        break;
                }
                break;
            case "message_delta":
                if (data.TryGetProperty("usage", out var deltaUsage))
                {
                    _usage = _usage.Merge(deltaUsage);
                }
                var stopReason = data.TryGetProperty("delta", out var messageDelta) ? AnthropicAnswerTranslator.String(messageDelta, "stop_reason") : null;
                WriteChunk(0, static (_, _) => { }, AnthropicAnswerTranslator.FinishReason(stopReason) ?? "stop");
                break;
            case "message_stop":
                if (includeUsage)
                {
                    WriteUsageChunk();
                }
                _translated.Write(ChatCompletionJson.Done);
                break;
            case "error":
                var error = data.TryGetProperty("error", out var e) ? e : data;
                OpenAIError.WriteEvent(_translated,
                    AnthropicAnswerTranslator.String(error, "message") ?? "The provider's stream failed.",
                    AnthropicAnswerTranslator.String(error, "type") ?? "api_error",
                    AnthropicAnswerTranslator.String(error, "type"));
                break;
            // ping, content_block_start of text, content_block_stop: nothing to say in OpenAI's format.
        }
    }

    private void WriteChunk<TState>(TState state, Action<Utf8JsonWriter, TState> writeDelta, string? finishReason)
    {
        ChatCompletionJson.BeginEvent(_translated, _writer);
        ChatCompletionJson.WriteChunkHeader(_writer, _id, created, _model);
        ChatCompletionJson.WriteChoiceDelta(_writer, 0, state, writeDelta, finishReason);
        ChatCompletionJson.EndEvent(_translated, _writer);
    }

    private void WriteUsageChunk()
    {
        ChatCompletionJson.BeginEvent(_translated, _writer);
        ChatCompletionJson.WriteChunkHeader(_writer, _id, created, _model);
        ChatCompletionJson.WriteNoChoices(_writer);
        AnthropicAnswerTranslator.WriteUsage(_writer, _usage);
        ChatCompletionJson.EndEvent(_translated, _writer);
    }

    /// <summary>A stream's one tool-call piece: <c>"tool_calls":[{…}]</c>.</summary>
    private static void WriteToolCall(Utf8JsonWriter writer, (int Index, string? Id, string? Name, string Arguments) call)
    {
        writer.WriteStartArray("tool_calls");
        ChatCompletionJson.WriteToolCall(writer, call.Index, call.Id, call.Name, call.Arguments);
        writer.WriteEndArray();
    }

    private void Grow()
    {
        var larger = ArrayPool<byte>.Shared.Rent(_events.Length * 2);
        _events.AsSpan(0, _eventBytes).CopyTo(larger);
        ArrayPool<byte>.Shared.Return(_events);
        _events = larger;
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            ArrayPool<byte>.Shared.Return(_events);
            _events = [];
            _writer.Dispose();
            inner.Dispose();
        }
        base.Dispose(disposing);
    }
}
