using System.Buffers;
using System.Buffers.Text;
using System.Text;

namespace AgentPlatform.Contracts.Usage;

/// <summary>
/// What an answer used, as the Router tells the Api (which prices and records it):
/// <c>prompt=12;cached=0;completion=34;estimated=0;interrupted=0</c> (and <c>;cache_write=N</c> when the
/// provider wrote to its prompt cache). A JSON answer carries it in the
/// <see cref="HeaderName"/> header (the Router holds JSON answers whole, so it is known before the
/// headers go); a stream ends with it as a server-sent-event comment line (<see cref="CommentPrefix"/>),
/// which SSE clients ignore by definition and the Api strips anyway. Never sent to clients.
/// </summary>
/// <param name="Estimated">The provider reported no usage (a stream cut short, a server that does not count): the tokenizer's estimate.</param>
/// <param name="Interrupted">The stream broke after it began and was ended with an error event.</param>
public readonly record struct UsageReport(TokenUsage Tokens, bool Estimated, bool Interrupted = false)
{
    public const string HeaderName = "x-agentplatform-usage";

    /// <summary>Sent by the Api with a request: end the stream with the usage line. Other callers get pure OpenAI streams.</summary>
    public const string RequestHeaderName = "x-agentplatform-report-usage";

    /// <summary>How the Router's last line of a stream begins.</summary>
    public static ReadOnlySpan<byte> CommentPrefix => LinePrefix[1..];

    /// <summary>
    /// The comment with the newline before it: what the Api searches a stream for. An answer's text
    /// cannot hold it, since a JSON string holds no raw newline.
    /// </summary>
    public static ReadOnlySpan<byte> LinePrefix => "\n: agentplatform-usage "u8;

    public string Format() => Tokens.CacheWriteInputTokens == 0
        ? string.Create(System.Globalization.CultureInfo.InvariantCulture,
            $"prompt={Tokens.InputTokens};cached={Tokens.CachedInputTokens};completion={Tokens.OutputTokens};estimated={(Estimated ? 1 : 0)};interrupted={(Interrupted ? 1 : 0)}")
        : string.Create(System.Globalization.CultureInfo.InvariantCulture,
            $"prompt={Tokens.InputTokens};cached={Tokens.CachedInputTokens};completion={Tokens.OutputTokens};estimated={(Estimated ? 1 : 0)};interrupted={(Interrupted ? 1 : 0)};cache_write={Tokens.CacheWriteInputTokens}");

    /// <summary>Writes the comment line (and the blank line that ends it as an event) that ends a stream.</summary>
    public void WriteComment(IBufferWriter<byte> output)
    {
        var text = Format();
        var span = output.GetSpan(CommentPrefix.Length + text.Length + 2);
        CommentPrefix.CopyTo(span);
        var length = CommentPrefix.Length + Encoding.ASCII.GetBytes(text, span[CommentPrefix.Length..]);
        "\n\n"u8.CopyTo(span[length..]);
        output.Advance(length + 2);
    }

    /// <summary>Reads the header form (read on every JSON answer, so without allocating).</summary>
    public static bool TryParse(string? text, out UsageReport report)
    {
        report = default;
        if (text is null || text.Length > MaxLength)
        {
            return false;
        }
        Span<byte> bytes = stackalloc byte[MaxLength];
        return Encoding.ASCII.TryGetBytes(text, bytes, out var length) && TryParse(bytes[..length], out report);
    }

    /// <summary>Longer than any report: six fields of at most 19 digits each.</summary>
    private const int MaxLength = 255;

    /// <summary>Reads <c>name=value;...</c> (unknown names skipped, so either side may add fields first).</summary>
    public static bool TryParse(ReadOnlySpan<byte> text, out UsageReport report)
    {
        long prompt = 0, cached = 0, completion = 0, cacheWrite = 0;
        bool estimated = false, interrupted = false, any = false;
        foreach (var range in text.Split((byte)';'))
        {
            var pair = text[range].Trim((byte)' ');
            var equals = pair.IndexOf((byte)'=');
            if (equals <= 0 || !Utf8Parser.TryParse(pair[(equals + 1)..], out long value, out var consumed) || consumed != pair.Length - equals - 1 || value < 0)
            {
                report = default;
                return false;
            }
            var name = pair[..equals];
            if (name.SequenceEqual("prompt"u8)) { prompt = value; any = true; }
            else if (name.SequenceEqual("cached"u8)) { cached = value; }
            else if (name.SequenceEqual("completion"u8)) { completion = value; any = true; }
            else if (name.SequenceEqual("estimated"u8)) { estimated = value != 0; }
            else if (name.SequenceEqual("interrupted"u8)) { interrupted = value != 0; }
            else if (name.SequenceEqual("cache_write"u8)) { cacheWrite = value; }
        }
        report = new UsageReport(new TokenUsage(prompt, completion, cached, cacheWrite), estimated, interrupted);
        return any;
    }
}
