using System.Buffers;
using System.Diagnostics;
using System.Globalization;
using System.IO.Pipelines;
using System.Net.Http.Headers;
using AgentPlatform.Contracts.Admin;
using AgentPlatform.Contracts.Anthropic;
using AgentPlatform.Contracts.Http;
using AgentPlatform.Contracts.OpenAI;
using AgentPlatform.Contracts.Usage;
using AgentPlatform.ServiceDefaults.Lifecycle;
using AgentPlatform.ServiceDefaults.RequestIds;
using Microsoft.Extensions.Options;

namespace AgentPlatform.Api.Upstream;

/// <summary>
/// Carries a request to the Router (found by service discovery under <c>router</c>) and streams its
/// answer back. The Router owns retries and failover across deployments, so this client never
/// retries: a second layer of retries would multiply load on a struggling provider, and a
/// completion must not be re-sent once its answer has begun.
/// </summary>
public sealed class RouterClient(IHttpClientFactory httpClientFactory, RouterReplicas replicas, Drain drain, IOptions<ApiOptions> options, ILogger<RouterClient> logger)
{
    public const string HttpClientName = "router";
    public const string OverheadHeader = "x-agentplatform-overhead-ms";
    public const string CacheHeader = "x-agentplatform-cache";

    private const string ShuttingDownCode = "shutting_down";
    private const string StreamInterruptedCode = "stream_interrupted";
    private const string ShuttingDownMessage = "This gateway replica is shutting down and could not finish the answer in time; send the request again.";

    private static readonly MediaTypeHeaderValue JsonContentType = new("application/json");
    private static readonly OpenAIErrorResult RouterUnavailable =
        OpenAIErrorResult.Unavailable("The router is unreachable; try again shortly.", "router_unavailable", type: OpenAIError.Upstream);
    private readonly TimeSpan _timeout = TimeSpan.FromSeconds(options.Value.RouterTimeoutSeconds);

    /// <summary>Forwards a request to the Router and copies the answer to the client as it arrives.</summary>
    /// <param name="started">When the Api began handling the request (a <see cref="Stopwatch"/> timestamp).</param>
    /// <param name="answer">Filled with what the answer tells the Api (deployment, prices, usage), when given.</param>
    /// <param name="client">Who the request is from, for the Router's breakers (<see cref="RouterRequestHeaders.Client"/>).</param>
    public async Task ForwardAsync(
        HttpContext context, HttpMethod method, string path, ReadOnlyMemory<byte>? body, long started, RouterAnswer? answer = null, string? client = null)
    {
        // Ended by the client leaving, by the Router's time running out, or by the end of a shutdown's drain.
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, drain.Deadline);
        timeout.CancelAfter(_timeout);
        if (await SendAsync(context, method, path, body, reportUsage: answer is not null, client, timeout.Token) is not { } response)
        {
            return;
        }
        using (response)
        {
            timeout.CancelAfter(Timeout.InfiniteTimeSpan);
            ProxyResponse.CopyHeaders(response, context.Response);
            var overhead = Overhead(response, started);
            context.Response.Headers[OverheadHeader] = overhead.ToString("0.###", CultureInfo.InvariantCulture);
            context.Response.Headers[CacheHeader] = answer?.CacheOutcome ?? "bypass";
            var isEventStream = response.Content.Headers.ContentType?.MediaType == "text/event-stream";
            answer?.ReadHeaders(response, isEventStream, overhead);
            await RelayAsync(context, response, answer, isEventStream, timeout.Token);
        }
    }

    private static HttpRequestMessage CreateRequest(HttpContext context, HttpMethod method, Uri uri, ReadOnlyMemory<byte>? body, bool reportUsage, string? client)
    {
        var request = new HttpRequestMessage(method, uri);
        if (body is { } content)
        {
            request.Content = new ReadOnlyMemoryContent(content);
            request.Content.Headers.ContentType = JsonContentType;
        }
        request.Headers.TryAddWithoutValidation(RequestId.HeaderName, context.TraceIdentifier);
        if (reportUsage)
        {
            request.Headers.TryAddWithoutValidation(UsageReport.RequestHeaderName, "1");
        }
        if (client is not null)
        {
            request.Headers.TryAddWithoutValidation(RouterRequestHeaders.Client, client);
        }
        if (AnthropicError.IsMessagesDoor(context.Request))
        {
            // What the client asked of Anthropic's API, for an Anthropic deployment to honour.
            foreach (var name in (ReadOnlySpan<string>)["anthropic-version", "anthropic-beta"])
            {
                if (context.Request.Headers[name] is { Count: > 0 } value)
                {
                    request.Headers.TryAddWithoutValidation(name, (IEnumerable<string?>)value);
                }
            }
        }
        return request;
    }

    /// <summary>
    /// The Router's answer as soon as its headers are in; null, with the client's error written, when none
    /// came. A replica that refuses the connection never saw the request, so it goes to the next one.
    /// </summary>
    private async Task<HttpResponseMessage?> SendAsync(
        HttpContext context, HttpMethod method, string path, ReadOnlyMemory<byte>? body, bool reportUsage, string? client, CancellationToken cancellationToken)
    {
        try
        {
            var addresses = await replicas.ListAsync(cancellationToken);
            for (var attempt = 1; ; attempt++)
            {
                var replica = replicas.Pick(addresses);
                using var request = CreateRequest(context, method, new Uri(replica, path), body, reportUsage, client);
                try
                {
                    return await httpClientFactory.CreateClient(HttpClientName).SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
                }
                catch (HttpRequestException exception) when (exception.HttpRequestError == HttpRequestError.ConnectionError && attempt < addresses.Length)
                {
                    replicas.Refused(replica);
                    Log.RouterReplicaRefused(logger, attempt, addresses.Length, exception);
                }
            }
        }
        catch (OperationCanceledException) when (drain.Deadline.IsCancellationRequested && !context.RequestAborted.IsCancellationRequested)
        {
            await OpenAIErrorResult.Unavailable(ShuttingDownMessage, ShuttingDownCode).ExecuteAsync(context);
        }
        catch (OperationCanceledException) when (!context.RequestAborted.IsCancellationRequested)
        {
            Log.RouterTimedOut(logger, _timeout.TotalSeconds);
            await OpenAIError.WriteAsync(context, StatusCodes.Status504GatewayTimeout,
                $"The router did not answer within {_timeout.TotalSeconds:0} s.", OpenAIError.Upstream, "router_timeout");
        }
        catch (HttpRequestException exception)
        {
            Log.RouterUnreachable(logger, exception.HttpRequestError, exception);
            await RouterUnavailable.ExecuteAsync(context);
        }
        return null;
    }

    /// <summary>
    /// Copies the answer's body to the client as it arrives. When it stops coming, the client learns:
    /// a stream cut by the end of a shutdown's drain ends with an error event, anything else broken is aborted.
    /// </summary>
    private async Task RelayAsync(HttpContext context, HttpResponseMessage response, RouterAnswer? answer, bool isEventStream, CancellationToken cancellationToken)
    {
        try
        {
            if (isEventStream && answer is not null)
            {
                await using var stream = await response.Content.ReadAsStreamAsync(cancellationToken);
                await CopyEventStreamAsync(stream, context.Response.BodyWriter, answer, cancellationToken);
            }
            else if (answer is not null && (answer.Captures || (answer.Usage is null && response.IsSuccessStatusCode)))
            {
                await CopyAndCaptureAsync(response, context.Response.BodyWriter, answer, cancellationToken);
            }
            else
            {
                await ProxyResponse.CopyBodyAsync(response, context.Response, cancellationToken);
            }
            answer?.Delivered = true;
        }
        catch (OperationCanceledException) when (drain.Deadline.IsCancellationRequested && !context.RequestAborted.IsCancellationRequested)
        {
            // The drain is over and the answer is still coming: a stream ends with an error event the
            // SDKs can read (the Router passes whole events, so none is cut in half); JSON can only break.
            Log.AnswerEndedByShutdown(logger);
            answer?.EndedByShutdown = true;
            if (isEventStream)
            {
                OpenAIError.WriteEvent(context, ShuttingDownMessage, OpenAIError.Server, ShuttingDownCode);
                await context.Response.BodyWriter.FlushAsync(CancellationToken.None);
            }
            else
            {
                answer?.Broken = true;
                context.Abort();
            }
        }
        catch (Exception exception) when (exception is HttpRequestException or IOException && !context.RequestAborted.IsCancellationRequested)
        {
            // The Router aborted a broken answer, or the Router replica itself went away. A stream ends with
            // an error event the SDKs read (and no [DONE]: it is not complete); JSON can only break.
            Log.RouterStreamBroken(logger, exception);
            answer?.Broken = true;
            if (isEventStream)
            {
                OpenAIError.WriteEvent(context,
                    $"The answer broke off after it began: the Router replica carrying it {BrokenBecause(exception)}; send the request again.",
                    OpenAIError.Upstream, StreamInterruptedCode);
                await context.Response.BodyWriter.FlushAsync(CancellationToken.None);
            }
            else
            {
                context.Abort();
            }
        }
    }

    /// <summary>Why the Router's answer stopped coming, in words that name no address.</summary>
    private static string BrokenBecause(Exception exception) => exception switch
    {
        HttpIOException { HttpRequestError: HttpRequestError.ResponseEnded } or HttpRequestException { HttpRequestError: HttpRequestError.ResponseEnded }
            => "closed its connection mid-answer",
        IOException { InnerException: System.Net.Sockets.SocketException { SocketErrorCode: System.Net.Sockets.SocketError.ConnectionReset } } => "reset its connection mid-answer",
        _ => "stopped answering (its connection broke)",
    };

    /// <summary>
    /// Copies a stream to the client as it arrives, except the Router's usage line at its end
    /// (<see cref="UsageReport"/>), which is read into <paramref name="answer"/> instead. Nothing is held
    /// back but the few bytes that may begin that line when a read ends inside it.
    /// </summary>
    internal static async Task CopyEventStreamAsync(Stream upstream, PipeWriter output, RouterAnswer answer, CancellationToken cancellationToken)
    {
        byte[]? buffer = null;
        try
        {
            var held = 0;
            var atLineStart = true;
            while (true)
            {
                if (held == 0)
                {
                    // Wait for the next event holding no buffer (a zero-byte read waits for data): a stream spends
                    // most of its life waiting for tokens, and 16 KB held per stream was a third of its memory.
                    if (buffer is not null)
                    {
                        ArrayPool<byte>.Shared.Return(buffer);
                        buffer = null;
                    }
                    _ = await upstream.ReadAsync(Memory<byte>.Empty, cancellationToken);
                }
                buffer ??= ArrayPool<byte>.Shared.Rent(16 * 1024);
                var read = await upstream.ReadAsync(buffer.AsMemory(held), cancellationToken);
                var count = held + read;
                var (usageAt, keep) = FindUsageLine(buffer.AsSpan(0, count), atLineStart, ended: read == 0);
                var write = usageAt >= 0 ? usageAt : count - keep;
                if (usageAt < 0 && read > 0)
                {
                    // Whole events only, as the Router sends them: if the Router goes mid-event, the client gets
                    // no half of one before the error event (an event bigger than the buffer goes in pieces).
                    var whole = ServerSentEvents.EndOfLastEvent(buffer.AsSpan(0, write));
                    write = whole > 0 || count < buffer.Length ? whole : write;
                    keep = count - write;
                }
                if (write > 0)
                {
                    answer.ContentEvents += UsageReader.CountContentEvents(buffer.AsSpan(0, write), answer.Api);
                    answer.Captured(buffer.AsSpan(0, write));
                    atLineStart = buffer[write - 1] == '\n';
                    await output.WriteAsync(buffer.AsMemory(0, write), cancellationToken);
                    if (answer.FirstContentAt == 0 && answer.ContentEvents > 0)
                    {
                        answer.FirstContentAt = Stopwatch.GetTimestamp();
                    }
                }
                if (usageAt >= 0)
                {
                    answer.Usage = await ReadUsageLineAsync(upstream, buffer, usageAt, count, cancellationToken) ?? answer.Usage;
                    return;
                }
                if (read == 0)
                {
                    return;
                }
                buffer.AsSpan(write, keep).CopyTo(buffer);
                held = keep;
            }
        }
        finally
        {
            if (buffer is not null)
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
        }
    }

    /// <summary>
    /// Copies a JSON answer to the client as it arrives, keeping a copy for the response cache. An answer
    /// that came without the Router's usage header (too large for it to hold whole) has its usage read
    /// from its end.
    /// </summary>
    private static async Task CopyAndCaptureAsync(HttpResponseMessage response, PipeWriter output, RouterAnswer answer, CancellationToken cancellationToken)
    {
        await using var upstream = await response.Content.ReadAsStreamAsync(cancellationToken);
        var buffer = ArrayPool<byte>.Shared.Rent(16 * 1024);
        var tail = answer.Usage is null && response.IsSuccessStatusCode ? new JsonAnswerTail() : null;
        try
        {
            int read;
            while ((read = await upstream.ReadAsync(buffer, cancellationToken)) > 0)
            {
                answer.Captured(buffer.AsSpan(0, read));
                tail?.Append(buffer.AsSpan(0, read));
                await output.WriteAsync(buffer.AsMemory(0, read), cancellationToken);
            }
            if (tail?.ReadUsage() is { } usage)
            {
                answer.Usage = new UsageReport(usage, Estimated: false);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>
    /// Where the usage line begins in <paramref name="data"/> (-1 if not there), and otherwise how many
    /// bytes at its end could be the start of it and must wait for the next read.
    /// </summary>
    internal static (int UsageAt, int Keep) FindUsageLine(ReadOnlySpan<byte> data, bool atLineStart, bool ended)
    {
        var comment = UsageReport.CommentPrefix;
        if (atLineStart && data.StartsWith(comment))
        {
            return (0, 0);
        }
        var at = data.IndexOf(UsageReport.LinePrefix);
        if (at >= 0)
        {
            return (at + 1, 0);
        }
        if (ended)
        {
            return (-1, 0);
        }
        if (atLineStart && data.Length < comment.Length && comment.StartsWith(data))
        {
            return (-1, data.Length);
        }
        // A newline alone is never held (every event ends with one, and holding it would hold the event back).
        var line = UsageReport.LinePrefix;
        for (var keep = Math.Min(line.Length - 1, data.Length); keep >= 2; keep--)
        {
            if (data[^keep..].SequenceEqual(line[..keep]))
            {
                return (-1, keep);
            }
        }
        return (-1, 0);
    }

    /// <summary>Reads the rest of the usage line (from <paramref name="start"/> in the buffer) and the little after it.</summary>
    private static async Task<UsageReport?> ReadUsageLineAsync(Stream upstream, byte[] buffer, int start, int count, CancellationToken cancellationToken)
    {
        var length = count - start;
        buffer.AsSpan(start, length).CopyTo(buffer);
        const int MaxLine = 1024;
        while (buffer.AsSpan(0, length).IndexOf((byte)'\n') < 0 && length < MaxLine)
        {
            var read = await upstream.ReadAsync(buffer.AsMemory(length, MaxLine - length), cancellationToken);
            if (read == 0)
            {
                break;
            }
            length += read;
        }
        var line = buffer.AsSpan(0, length);
        var end = line.IndexOf((byte)'\n');
        var parsed = UsageReport.TryParse(line[UsageReport.CommentPrefix.Length..(end < 0 ? length : end)], out var report);
        // What follows is the blank line that ends the comment; read to the end so the connection is reused.
        while (await upstream.ReadAsync(buffer.AsMemory(0, MaxLine), cancellationToken) > 0)
        {
        }
        return parsed ? report : null;
    }

    /// <summary>The model groups the Router serves (for a key that may use only some of them).</summary>
    public async Task<IReadOnlyList<ModelEntry>> GetModelsAsync(CancellationToken cancellationToken)
    {
        var list = await httpClientFactory.CreateClient(HttpClientName).GetFromJsonAsync<ModelList>("/v1/models", cancellationToken);
        return list?.Data ?? [];
    }

    /// <summary>Time in the platform before the answer started: Api time minus the deployment's time.</summary>
    private static double Overhead(HttpResponseMessage response, long started)
    {
        var total = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
        var upstream = response.Headers.TryGetValues(ProxyResponse.UpstreamTimeHeader, out var values)
            && double.TryParse(values.First(), NumberStyles.Float, CultureInfo.InvariantCulture, out var ms) ? ms : 0;
        return Math.Max(0, total - upstream);
    }

    /// <summary>Per model group, the worst case a request could cost (for budget reservations).</summary>
    public async Task<IReadOnlyList<WorstCase>> GetWorstCasePricesAsync(CancellationToken cancellationToken)
    {
        var list = await httpClientFactory.CreateClient(HttpClientName).GetFromJsonAsync<ListOf<WorstCase>>("/v1/model-groups/prices", cancellationToken);
        return list?.Data ?? [];
    }
}
