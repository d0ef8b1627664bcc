using System.Text.Json;
using AgentPlatform.Contracts.Anthropic;
using AgentPlatform.Contracts.Http;

namespace AgentPlatform.Router.Providers.Messages;

/// <summary>
/// Reads OpenAI's chunk stream and gives Anthropic's named events: the first chunk opens the message
/// (<c>message_start</c>), content opens a text block and continues it (<c>text_delta</c>), each tool call
/// a <c>tool_use</c> block whose arguments follow as <c>input_json_delta</c>, and <c>[DONE]</c> closes the
/// last block and the message with its stop reason and usage (<c>message_delta</c>, <c>message_stop</c>).
/// The input's usage is known only at the end, so it comes in <c>message_delta</c> (which Anthropic's
/// clients read it from too); <c>message_start</c> says 0. An OpenAI error event becomes Anthropic's.
/// </summary>
internal sealed class MessagesEventStream(Stream inner) : ChatChunkEventStream(inner)
{
    private enum Block { None, Text, ToolUse }

    private int _index = -1;
    private Block _open;
    /// <summary>The Anthropic block of each OpenAI tool-call index.</summary>
    private readonly Dictionary<int, int> _toolBlocks = [];

    protected override void WriteError(JsonElement error)
    {
        var status = error.TryGetProperty("code", out var code) && code.ValueKind == JsonValueKind.Number ? code.GetInt32() : 500;
        AnthropicError.WriteEvent(Output, status, JsonFields.String(error, "message") ?? "The provider's stream failed.",
            JsonFields.String(error, "code") ?? JsonFields.String(error, "type"));
    }

    protected override void WriteText(string text)
    {
        Open(Block.Text);
        WriteDelta(_index, "text_delta", "text", text);
    }

    protected override void WriteToolCall(int index, string id, string name, string? arguments)
    {
        if (!_toolBlocks.TryGetValue(index, out var block))
        {
            CloseBlock();
            block = _toolBlocks[index] = ++_index;
            _open = Block.ToolUse;
            WriteEvent("content_block_start", writer =>
            {
                writer.WriteNumber("index", block);
                writer.WritePropertyName("content_block");
                MessagesAnswerTranslator.WriteToolUseStart(writer, id, name, null);
                writer.WriteEndObject();
            });
        }
        if (arguments is { Length: > 0 })
        {
            WriteDelta(block, "input_json_delta", "partial_json", arguments);
        }
    }

    protected override void Begin(JsonElement chunk) =>
        WriteEvent("message_start", writer =>
        {
            writer.WriteStartObject("message");
            writer.WriteString("id", JsonFields.String(chunk, "id") ?? "");
            writer.WriteString("type", "message");
            writer.WriteString("role", "assistant");
            writer.WriteString("model", JsonFields.String(chunk, "model") ?? "");
            writer.WriteStartArray("content");
            writer.WriteEndArray();
            writer.WriteNull("stop_reason");
            writer.WriteNull("stop_sequence");
            MessagesAnswerTranslator.WriteUsage(writer, default);
            writer.WriteEndObject();
        });

    /// <summary>Makes the open block one of <paramref name="kind"/>: the one open already, or a new one after closing it.</summary>
    private void Open(Block kind)
    {
        if (_open == kind)
        {
            return;
        }
        CloseBlock();
        _open = kind;
        var index = ++_index;
        WriteEvent("content_block_start", writer =>
        {
            writer.WriteNumber("index", index);
            writer.WriteStartObject("content_block");
            writer.WriteString("type", "text");
            writer.WriteString("text", "");
            writer.WriteEndObject();
        });
    }

    private void CloseBlock()
    {
        if (_open == Block.None)
        {
            return;
        }
        _open = Block.None;
        var index = _index;
        WriteEvent("content_block_stop", writer => writer.WriteNumber("index", index));
    }

    protected override void Finish()
    {
        if (!Started)
        {
            Begin(default);
        }
        CloseBlock();
        var stopReason = MessagesAnswerTranslator.StopReason(FinishReason);
        WriteEvent("message_delta", writer =>
        {
            writer.WriteStartObject("delta");
            writer.WriteString("stop_reason", stopReason);
            writer.WriteNull("stop_sequence");
            writer.WriteEndObject();
            using var usage = Usage is null ? null : JsonDocument.Parse(Usage);
            MessagesAnswerTranslator.WriteUsage(writer, usage?.RootElement ?? default);
        });
        WriteEvent("message_stop", _ => { });
    }

    private void WriteDelta(int index, string type, string name, string value) =>
        WriteEvent("content_block_delta", writer =>
        {
            writer.WriteNumber("index", index);
            writer.WriteStartObject("delta");
            writer.WriteString("type", type);
            writer.WriteString(name, value);
            writer.WriteEndObject();
        });

    /// <summary><c>event: {type}</c> and its data, <c>{"type":"{type}", …}</c>.</summary>
    private void WriteEvent(string type, Action<Utf8JsonWriter> writeBody) =>
        ServerSentEvents.WriteNamed(Output, Writer, type, writeBody, static (writer, body) => body(writer));
}
