using System.Runtime.InteropServices;
using System.Text.Json;

namespace AgentPlatform.Router.Providers;

/// <summary>
/// OpenAI's chat chunk stream said in another door's events: each chunk is taken apart here once — the first
/// one begins the answer, the first choice's text and tool-call pieces go to the door's writer, the usage and
/// finish reason are kept for its end — and <c>[DONE]</c> ends it; an error event becomes the door's.
/// </summary>
internal abstract class ChatChunkEventStream(Stream inner) : TranslatedEventStream(inner)
{
    /// <summary>Whether the first chunk has come (and <see cref="Begin"/> has written the door's opening events).</summary>
    protected bool Started { get; private set; }

    /// <summary>The usage the provider reported, as raw JSON; null until its usage chunk.</summary>
    protected byte[]? Usage { get; private set; }

    /// <summary>The first choice's finish reason, once the provider gave it.</summary>
    protected string? FinishReason { get; private set; }

    protected sealed override void Translate(ReadOnlySpan<byte> data)
    {
        if (data.SequenceEqual("[DONE]"u8))
        {
            Finish();
            return;
        }
        using var document = JsonDocument.Parse(data.ToArray());
        var chunk = document.RootElement;
        if (chunk.TryGetProperty("error", out var error))
        {
            WriteError(error);
            return;
        }
        if (!Started)
        {
            Started = true;
            Begin(chunk);
        }
        if (chunk.TryGetProperty("usage", out var usage) && usage.ValueKind == JsonValueKind.Object)
        {
            Usage = JsonMarshal.GetRawUtf8Value(usage).ToArray();
        }
        if (!chunk.TryGetProperty("choices", out var choices) || choices.ValueKind != JsonValueKind.Array || choices.GetArrayLength() == 0)
        {
            return;
        }
        var choice = choices[0];
        if (choice.TryGetProperty("delta", out var delta) && delta.ValueKind == JsonValueKind.Object)
        {
            if (JsonFields.String(delta, "content") is { Length: > 0 } text)
            {
                WriteText(text);
            }
            if (delta.TryGetProperty("tool_calls", out var calls) && calls.ValueKind == JsonValueKind.Array)
            {
                foreach (var piece in calls.EnumerateArray())
                {
                    var function = piece.TryGetProperty("function", out var f) ? f : default;
                    WriteToolCall(piece.TryGetProperty("index", out var i) && i.TryGetInt32(out var index) ? index : 0,
                        JsonFields.String(piece, "id") ?? "", JsonFields.String(function, "name") ?? "", JsonFields.String(function, "arguments"));
                }
            }
        }
        if (JsonFields.String(choice, "finish_reason") is { } finish)
        {
            FinishReason = finish;
        }
    }

    /// <summary>The door's opening events, at the first chunk (its id, model and time).</summary>
    protected abstract void Begin(JsonElement chunk);

    /// <summary>A piece of the answer's text.</summary>
    protected abstract void WriteText(string text);

    /// <summary>A piece of tool call <paramref name="index"/>: its id and name come with its first piece, its arguments in pieces.</summary>
    protected abstract void WriteToolCall(int index, string id, string name, string? arguments);

    /// <summary>The provider's error event, in the door's shape.</summary>
    protected abstract void WriteError(JsonElement error);

    /// <summary>The door's closing events, at <c>[DONE]</c>.</summary>
    protected abstract void Finish();
}
