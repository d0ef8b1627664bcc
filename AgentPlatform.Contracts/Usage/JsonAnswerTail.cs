namespace AgentPlatform.Contracts.Usage;

/// <summary>
/// The last bytes of a JSON answer as it passes, to read its top-level <c>usage</c> at the end: for an
/// answer too large to hold whole (a large batch of embeddings), whose usage object comes last. Kept
/// only on that path, so an answer read whole costs nothing for it.
/// </summary>
public sealed class JsonAnswerTail
{
    /// <summary>More than any usage object (with its details) and the few fields that may follow it.</summary>
    public const int Size = 2048;

    private readonly byte[] _tail = new byte[Size];
    private int _count;

    /// <summary>Keeps the last <see cref="Size"/> bytes of what has passed so far.</summary>
    public void Append(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length >= Size)
        {
            bytes[^Size..].CopyTo(_tail);
            _count = Size;
            return;
        }
        var keep = Math.Min(_count, Size - bytes.Length);
        _tail.AsSpan(_count - keep, keep).CopyTo(_tail);
        bytes.CopyTo(_tail.AsSpan(keep));
        _count = keep + bytes.Length;
    }

    /// <summary>
    /// The usage the answer ends with: read as <c>{"usage":{...}, ...}</c> from its last <c>"usage"</c>
    /// that opens a complete object to the answer's end (an earlier one when the last is a string value).
    /// </summary>
    public TokenUsage? ReadUsage()
    {
        var tail = _tail.AsSpan(0, _count);
        Span<byte> json = stackalloc byte[Size + 1];
        json[0] = (byte)'{';
        for (var end = tail.Length; tail[..end].LastIndexOf("\"usage\""u8) is var at and >= 0; end = at)
        {
            tail[at..].CopyTo(json[1..]);
            if (UsageReader.FromJson(json[..(1 + tail.Length - at)]) is { } usage)
            {
                return usage;
            }
        }
        return null;
    }
}
