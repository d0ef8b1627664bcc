using System.Buffers;
using CommunityToolkit.HighPerformance.Buffers;
using AgentPlatform.Contracts.Http;
using AgentPlatform.Contracts.OpenAI;
using AgentPlatform.Contracts.Usage;

namespace AgentPlatform.Api.Upstream;

/// <summary>What the Api learned from the Router's answer to a chat completion, for limits and the usage ledger.</summary>
public sealed class RouterAnswer
{
    /// <summary>The door the request came through, whose stream the answer is in.</summary>
    public ModelApi Api { get; init; }

    /// <summary>The deployment that answered, if one did.</summary>
    public string? Deployment { get; set; }

    /// <summary>The answering deployment's prices.</summary>
    public Prices? Prices { get; set; }

    /// <summary>The usage the Router reported; null when none arrived (the client or the connection went first).</summary>
    public UsageReport? Usage { get; set; }

    /// <summary>Events with answer text passed to the client: about one token each, for an estimate when no usage arrived.</summary>
    public int ContentEvents { get; set; }

    /// <summary>When the first of those reached the client (a <see cref="System.Diagnostics.Stopwatch"/> timestamp); 0 before.</summary>
    public long FirstContentAt { get; set; }

    public double? OverheadMs { get; set; }

    /// <summary>The Router's status code; 0 when it could not be reached.</summary>
    public int Status { get; set; }

    public bool IsEventStream { get; set; }

    /// <summary>What the <c>x-agentplatform-cache</c> header says of this answer (<c>miss</c> when the cache will keep it).</summary>
    public string CacheOutcome { get; set; } = "bypass";

    /// <summary>
    /// Whether every byte the client is sent is copied into <see cref="Capture"/> (for the response cache):
    /// from <see cref="CaptureUpTo"/> until the answer passes the limit or <see cref="ReleaseCapture"/>.
    /// </summary>
    public bool Captures { get; private set; }

    /// <summary>
    /// The copy of what the client was sent; null until its first bytes. Its buffer is rented, sized by
    /// those first bytes and doubled as needed (a held stream waits with what it has, not a fixed 4 KB):
    /// <see cref="ReleaseCapture"/> returns it.
    /// </summary>
    public ArrayPoolBufferWriter<byte>? Capture { get; private set; }

    private int _captureLimit;

    /// <summary>Copies what the client is sent from now on, giving up when it passes <paramref name="limit"/> bytes.</summary>
    public void CaptureUpTo(int limit) => (Captures, _captureLimit) = (true, Math.Max(limit, _captureLimit));

    /// <summary>What the Router's answer says in its status and headers: the deployment, its prices, and the usage of a JSON answer.</summary>
    public void ReadHeaders(HttpResponseMessage response, bool isEventStream, double overheadMs)
    {
        Status = (int)response.StatusCode;
        IsEventStream = isEventStream;
        OverheadMs = overheadMs;
        Deployment = response.Headers.TryGetValues(ProxyResponse.DeploymentHeader, out var deployment) ? deployment.First() : null;
        Prices = response.Headers.TryGetValues(ProxyResponse.PriceHeader, out var prices) ? Contracts.Usage.Prices.Parse(prices.First()) : null;
        if (response.Headers.TryGetValues(UsageReport.HeaderName, out var usage) && UsageReport.TryParse(usage.First(), out var report))
        {
            Usage = report;
        }
    }

    /// <summary>Copies what the client is sent into <see cref="Capture"/>, giving up when it grows past the limit.</summary>
    public void Captured(ReadOnlySpan<byte> bytes)
    {
        if (!Captures)
        {
            return;
        }
        if ((Capture?.WrittenCount ?? 0) + bytes.Length > _captureLimit)
        {
            ReleaseCapture();
            return;
        }
        (Capture ??= new ArrayPoolBufferWriter<byte>(Math.Max(bytes.Length, MinimumCaptureBytes))).Write(bytes);
    }

    /// <summary>The smallest capture buffer: a short JSON answer's size, so that most fit the first one.</summary>
    private const int MinimumCaptureBytes = 1024;

    /// <summary>Stops capturing and gives the capture's buffer back to the pool; nothing read from it may be used after.</summary>
    public void ReleaseCapture()
    {
        Captures = false;
        Capture?.Dispose();
        Capture = null;
    }

    /// <summary>The whole answer reached the client (the copy ended without a break or the client leaving).</summary>
    public bool Delivered { get; set; }

    /// <summary>The Router's answer broke off (its connection failed) and the client's response was aborted.</summary>
    public bool Broken { get; set; }

    /// <summary>The answer was still coming when this replica's shutdown drain ended, and was cut (a stream with an error event).</summary>
    public bool EndedByShutdown { get; set; }
}
