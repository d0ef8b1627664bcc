namespace AgentPlatform.Contracts.Http;

/// <summary>
/// Where server-sent events end, for the Router and the Api, which pass a stream on whole events at a
/// time: if it breaks, the client holds no half event, and the error event that ends it is read as one.
/// </summary>
public static class ServerSentEvents
{
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
