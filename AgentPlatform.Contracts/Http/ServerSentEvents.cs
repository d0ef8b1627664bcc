using System.Buffers;
using System.Text;
using System.Text.Json;

namespace AgentPlatform.Contracts.Http;

/// <summary>
/// Server-sent events for the Router and the Api: where they end (a stream is passed on whole events at a
/// time: if it breaks, the client holds no half event, and the error event that ends it is read as one), and
/// the named events Anthropic's Messages and OpenAI's Responses streams are made of.
/// </summary>
public static class ServerSentEvents
{
    /// <summary>
    /// One named event as Anthropic and the Responses API write theirs: <c>event: {type}</c>, then
    /// <c>data: {"type":"{type}", …}</c>, whose other properties <paramref name="body"/> writes.
    /// </summary>
    public static void WriteNamed<TState>(IBufferWriter<byte> output, Utf8JsonWriter writer, string type, TState state, Action<Utf8JsonWriter, TState> body)
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

    /// <summary>Where the last complete event in <paramref name="bytes"/> ends (after its blank line); 0 when none.</summary>
    public static int EndOfLastEvent(ReadOnlySpan<byte> bytes)
    {
        for (var end = bytes.LastIndexOf((byte)'\n'); end > 0; end = bytes[..end].LastIndexOf((byte)'\n'))
        {
            if (bytes[end - 1] == '\n' || (end > 1 && bytes[end - 1] == '\r' && bytes[end - 2] == '\n'))
            {
                return end + 1;
            }
        }
        return 0;
    }
}
