using System.Buffers;
using System.Text;
using System.Text.Json;

namespace AgentPlatform.Contracts.Anthropic;

/// <summary>Anthropic's stream events as it writes them: <c>event: {type}</c>, then <c>data: {"type":"{type}", …}</c>.</summary>
public static class AnthropicEvents
{
    /// <summary>One event; <paramref name="body"/> writes the data's properties after its <c>type</c>.</summary>
    public static void Write<TState>(IBufferWriter<byte> output, Utf8JsonWriter writer, string type, TState state, Action<Utf8JsonWriter, TState> body)
    {
        output.Write("event: "u8);
        Encoding.UTF8.GetBytes(type.AsSpan(), output);
        output.Write("\ndata: "u8);
        writer.Reset(output);
        writer.WriteStartObject();
        writer.WriteString("type", type);
        body(writer, state);
        writer.WriteEndObject();
        writer.Flush();
        output.Write("\n\n"u8);
    }
}
