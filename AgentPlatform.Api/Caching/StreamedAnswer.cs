using System.Buffers;
using System.Text;
using System.Text.Json;
using AgentPlatform.Contracts.OpenAI;
using AgentPlatform.Contracts.Usage;

namespace AgentPlatform.Api.Caching;

/// <summary>
/// Turns a streamed chat completion (its server-sent events, as the client received them) into the
/// <c>chat.completion</c> JSON a non-streaming request would have got: the deltas of each choice joined
/// into its message, tool calls joined by their index, the finish reasons and the usage.
/// </summary>
public static class StreamedAnswer
{
    /// <summary>
    /// The completion the events make, or null when they are not a whole successful answer: no
    /// <c>[DONE]</c>, an error event, or a choice that never finished.
    /// </summary>
    /// <param name="reported">The Router's usage report, for a stream that carried no usage chunk.</param>
    public static byte[]? Assemble(ReadOnlySpan<byte> events, UsageReport? reported)
    {
        var completion = new Completion();
        var done = false;
        foreach (var range in events.Split((byte)'\n'))
        {
            var line = events[range].TrimEnd((byte)'\r');
            if (!line.StartsWith("data:"u8))
            {
                continue;
            }
            var data = line["data:"u8.Length..].TrimStart((byte)' ');
            if (data.SequenceEqual("[DONE]"u8))
            {
                done = true;
                continue;
            }
            if (done || !completion.Add(data))
            {
                return null;
            }
        }
        return done ? completion.ToJson(reported) : null;
    }

    private sealed class Completion
    {
        private readonly SortedDictionary<int, Choice> _choices = [];
        private string? _id, _model, _fingerprint, _serviceTier;
        private long _created;
        private byte[]? _usage;

        /// <summary>Takes in one chunk; false when it is an error or not a chunk.</summary>
        public bool Add(ReadOnlySpan<byte> data)
        {
            JsonDocument document;
            try
            {
                document = JsonDocument.Parse(data.ToArray());
            }
            catch (JsonException)
            {
                return false;
            }
            using (document)
            {
                var chunk = document.RootElement;
                if (chunk.ValueKind != JsonValueKind.Object || chunk.TryGetProperty("error", out _))
                {
                    return false;
                }
                _id ??= String(chunk, "id");
                _model ??= String(chunk, "model");
                _fingerprint ??= String(chunk, "system_fingerprint");
                _serviceTier ??= String(chunk, "service_tier");
                if (_created == 0 && chunk.TryGetProperty("created", out var created) && created.TryGetInt64(out var seconds))
                {
                    _created = seconds;
                }
                if (chunk.TryGetProperty("usage", out var usage) && usage.ValueKind == JsonValueKind.Object)
                {
                    _usage = Encoding.UTF8.GetBytes(usage.GetRawText());
                }
                if (chunk.TryGetProperty("choices", out var choices) && choices.ValueKind == JsonValueKind.Array)
                {
                    foreach (var delta in choices.EnumerateArray())
                    {
                        var index = delta.TryGetProperty("index", out var i) && i.TryGetInt32(out var n) ? n : 0;
                        if (!_choices.TryGetValue(index, out var choice))
                        {
                            _choices[index] = choice = new Choice();
                        }
                        choice.Add(delta);
                    }
                }
                return true;
            }
        }

        public byte[]? ToJson(UsageReport? reported)
        {
            if (_choices.Count == 0 || _choices.Values.Any(c => c.FinishReason is null))
            {
                return null;
            }
            var output = new ArrayBufferWriter<byte>();
            using (var json = new Utf8JsonWriter(output))
            {
                json.WriteStartObject();
                ChatCompletionJson.WriteCompletionHeader(json, _id, _created, _model, _fingerprint);
                if (_serviceTier is not null)
                {
                    json.WriteString("service_tier", _serviceTier);
                }
                json.WriteStartArray("choices");
                foreach (var (index, choice) in _choices)
                {
                    choice.Write(json, index);
                }
                json.WriteEndArray();
                if (_usage is not null)
                {
                    json.WritePropertyName("usage");
                    json.WriteRawValue(_usage);
                }
                else if (reported is { Tokens: var tokens })
                {
                    ChatCompletionJson.WriteUsage(json, tokens.InputTokens, tokens.CachedInputTokens, tokens.OutputTokens, tokens.CacheWriteInputTokens);
                }
                json.WriteEndObject();
            }
            return output.WrittenSpan.ToArray();
        }

        private static string? String(JsonElement element, string name) =>
            element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;
    }

    private sealed class Choice
    {
        private readonly SortedDictionary<int, ToolCall> _toolCalls = [];
        private readonly List<byte[]> _logprobs = [];
        private StringBuilder? _content, _refusal;
        private string? _role;

        public string? FinishReason { get; private set; }

        public void Add(JsonElement choice)
        {
            if (choice.TryGetProperty("delta", out var delta) && delta.ValueKind == JsonValueKind.Object)
            {
                if (delta.TryGetProperty("role", out var role) && role.ValueKind == JsonValueKind.String)
                {
                    _role ??= role.GetString();
                }
                if (delta.TryGetProperty("content", out var content) && content.ValueKind == JsonValueKind.String)
                {
                    (_content ??= new StringBuilder()).Append(content.GetString());
                }
                if (delta.TryGetProperty("refusal", out var refusal) && refusal.ValueKind == JsonValueKind.String)
                {
                    (_refusal ??= new StringBuilder()).Append(refusal.GetString());
                }
                if (delta.TryGetProperty("tool_calls", out var calls) && calls.ValueKind == JsonValueKind.Array)
                {
                    foreach (var call in calls.EnumerateArray())
                    {
                        var index = call.TryGetProperty("index", out var i) && i.TryGetInt32(out var n) ? n : _toolCalls.Count;
                        if (!_toolCalls.TryGetValue(index, out var toolCall))
                        {
                            _toolCalls[index] = toolCall = new ToolCall();
                        }
                        toolCall.Add(call);
                    }
                }
            }
            if (choice.TryGetProperty("logprobs", out var logprobs) && logprobs.ValueKind == JsonValueKind.Object
                && logprobs.TryGetProperty("content", out var tokens) && tokens.ValueKind == JsonValueKind.Array)
            {
                foreach (var token in tokens.EnumerateArray())
                {
                    _logprobs.Add(Encoding.UTF8.GetBytes(token.GetRawText()));
                }
            }
            if (choice.TryGetProperty("finish_reason", out var finish) && finish.ValueKind == JsonValueKind.String)
            {
                FinishReason = finish.GetString();
            }
        }

        public void Write(Utf8JsonWriter json, int index)
        {
            json.WriteStartObject();
            json.WriteNumber("index", index);
            json.WriteStartObject("message");
            json.WriteString("role", _role ?? "assistant");
            json.WriteString("content", _content?.ToString());
            json.WriteString("refusal", _refusal?.ToString());
            if (_toolCalls.Count > 0)
            {
                json.WriteStartArray("tool_calls");
                foreach (var call in _toolCalls.Values)
                {
                    call.Write(json);
                }
                json.WriteEndArray();
            }
            json.WriteEndObject();
            if (_logprobs.Count > 0)
            {
                json.WriteStartObject("logprobs");
                json.WriteStartArray("content");
                foreach (var token in _logprobs)
                {
                    json.WriteRawValue(token);
                }
                json.WriteEndArray();
                json.WriteEndObject();
            }
            else
            {
                json.WriteNull("logprobs");
            }
            json.WriteString("finish_reason", FinishReason);
            json.WriteEndObject();
        }
    }

    private sealed class ToolCall
    {
        private readonly StringBuilder _name = new(), _arguments = new();
        private string? _id, _type;

        public void Add(JsonElement call)
        {
            if (call.TryGetProperty("id", out var id) && id.ValueKind == JsonValueKind.String)
            {
                _id ??= id.GetString();
            }
            if (call.TryGetProperty("type", out var type) && type.ValueKind == JsonValueKind.String)
            {
                _type ??= type.GetString();
            }
            if (call.TryGetProperty("function", out var function) && function.ValueKind == JsonValueKind.Object)
            {
                if (function.TryGetProperty("name", out var name) && name.ValueKind == JsonValueKind.String)
                {
                    _name.Append(name.GetString());
                }
                if (function.TryGetProperty("arguments", out var arguments) && arguments.ValueKind == JsonValueKind.String)
                {
                    _arguments.Append(arguments.GetString());
                }
            }
        }

        public void Write(Utf8JsonWriter json)
        {
            json.WriteStartObject();
            json.WriteString("id", _id);
            json.WriteString("type", _type ?? "function");
            json.WriteStartObject("function");
            json.WriteString("name", _name.ToString());
            json.WriteString("arguments", _arguments.ToString());
            json.WriteEndObject();
            json.WriteEndObject();
        }
    }
}
