using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text.Json;
using AgentPlatform.Contracts.Anthropic;
using AgentPlatform.Contracts.Http;
using AgentPlatform.Contracts.OpenAI;
using AgentPlatform.Contracts.Usage;
using AgentPlatform.Router.Pool;
using AgentPlatform.Router.Providers;
using AgentPlatform.Router.Resilience;
using AgentPlatform.Router.Telemetry;

namespace AgentPlatform.Router.Forwarding;

/// <summary>One attempt on one deployment: the call, the wait for its answer to begin, and the relay of the rest.</summary>
public sealed partial class ChatForwarder
{
    /// <summary>One attempt: picks a deployment and calls it, reporting the result to its breaker exactly once.</summary>
    private async ValueTask<AttemptResult> AttemptAsync(ForwardingRequest request)
    {
        if (await PickAsync(request) is not { } deployment)
        {
            return AttemptResult.NoneAvailable;
        }
        request.LastDeployment = deployment.Name;
        request.Attempts++;
        using var inFlight = deployment.State.BeginRequest();
        using var span = StartAttemptSpan(request, deployment);
        try
        {
            var result = await CallAsync(request, deployment);
            span?.SetTag("agentplatform.outcome", result.Status.ToString());
            if (result.Failure is not null)
            {
                span?.SetStatus(ActivityStatusCode.Error, result.Failure);
            }
            if (result.IsServerError)
            {
                // Judged when the request's attempts on this group are over (SettleServerErrors).
                request.HoldServerError(deployment, result);
                return result;
            }
            request.SawOtherOutcome = true;
            switch (result.Status)
            {
                case AttemptStatus.Completed:
                    deployment.Breaker.OnSuccess();
                    deployment.State.RecordOutcome(failure: null);
                    break;
                case AttemptStatus.Rejected or AttemptStatus.ContextTooLong:
                    deployment.Breaker.OnAbandoned();
                    break;
                default:
                    deployment.Breaker.OnFailure(result.Failure!);
                    deployment.State.RecordOutcome(result.Failure);
                    break;
            }
            return result;
        }
        catch
        {
            deployment.Breaker.OnAbandoned();
            throw;
        }
    }

    /// <summary>
    /// The deployment the attempt goes to: the group's next pick whose breaker grants the call and that
    /// has room for it; null when there is none. Each deployment looked at counts as tried.
    /// </summary>
    private async ValueTask<Deployment?> PickAsync(ForwardingRequest request)
    {
        while (true)
        {
            var now = NowTicks;
            if (request.Tried.Count == 0 && request.Backoffs == 0)
            {
                CountBreakerRejections(request.Group, now); // once per request and group, not per retry
            }
            var picked = request.Group.PickNext(request.Tried, now, request.Size);
            if (picked is null)
            {
                // A backoff planned to end with a Retry-After may wake a few ms early (timers tick
                // coarsely); wait out the rest instead of spending an attempt on finding nothing.
                if (request.Group.EarliestAvailableTicks(now, request.Size) is { } earliest && earliest > now && earliest - now <= TimerSlack.Ticks)
                {
                    await Task.Delay(TimeSpan.FromTicks(earliest - now + 1), _timeProvider, request.Context.RequestAborted);
                    continue;
                }
                return null;
            }
            request.Tried.Add(picked);
            if (!picked.Breaker.TryAcquire())
            {
                continue; // lost the half-open probe to another request
            }
            if (await _capacity.TryReserveAsync(picked, request.Size.PerMinute) is { } wait)
            {
                // At its Rpm/Tpm: left alone (by this replica) until the reservation would fit.
                picked.Breaker.OnAbandoned();
                picked.State.CoolDown(_timeProvider.GetUtcNow() + wait);
                request.LastFailure = $"deployment '{picked.Name}' is at its capacity (Rpm/Tpm) for another {Seconds(wait)}";
                continue;
            }
            return picked;
        }
    }

    /// <summary>One span per attempt (the provider call's HTTP span is its child), with OpenTelemetry's GenAI attributes.</summary>
    private static Activity? StartAttemptSpan(ForwardingRequest request, Deployment deployment)
    {
        var span = RouterMetrics.ActivitySource.StartActivity($"chat {deployment.Model}", ActivityKind.Client);
        if (span is { IsAllDataRequested: true })
        {
            span.SetTag("gen_ai.operation.name", "chat");
            span.SetTag("gen_ai.provider.name", deployment.Provider);
            span.SetTag("gen_ai.request.model", deployment.Model);
            span.SetTag("agentplatform.model_group", request.Group.Name);
            span.SetTag("agentplatform.deployment", deployment.Name);
            span.SetTag("agentplatform.attempt", request.Attempts);
        }
        return span;
    }

    /// <summary>The answer's tokens on its attempt span (the current activity while the answer is relayed).</summary>
    private static void TagUsage(Activity? span, UsageReport report)
    {
        if (span is { IsAllDataRequested: true } && span.Source == RouterMetrics.ActivitySource)
        {
            span.SetTag("gen_ai.usage.input_tokens", report.Tokens.InputTokens);
            span.SetTag("gen_ai.usage.output_tokens", report.Tokens.OutputTokens);
            span.SetTag("agentplatform.usage.estimated", report.Estimated);
        }
    }

    private async Task<AttemptResult> CallAsync(ForwardingRequest request, Deployment deployment)
    {
        var context = request.Context;
        var timeout = request.AttemptTimeout();
        var limit = Bounded(request, request.Stream ? _firstToken : _response);
        timeout.CancelAfter(limit);

        if (await CreateRequestAsync(request, deployment) is not { } message)
        {
            return AttemptResult.Rejected;
        }
        using var _ = message;

        var started = _timeProvider.GetTimestamp();
        HttpResponseMessage response;
        try
        {
            response = await _upstream.SendAsync(message, timeout.Token);
        }
        catch (Exception exception) when (IsUpstreamFailure(exception, context))
        {
            return Failed(request, deployment, null, started, exception is OperationCanceledException
                ? AttemptResult.TimedOut($"deployment '{deployment.Name}' sent no response within {Seconds(limit)}")
                : AttemptResult.Failed($"deployment '{deployment.Name}' could not be reached ({(exception as HttpRequestException)?.HttpRequestError})"));
        }

        using (response)
        {
            var elapsed = _timeProvider.GetElapsedTime(started);
            deployment.State.RecordLatency(elapsed);
            if (await RefusalAsync(request, deployment, response, elapsed, timeout.Token) is { } refused)
            {
                return refused;
            }

            return await AnswerAsync(request, deployment, response, started, elapsed, limit, timeout);
        }
    }

    /// <summary>
    /// An answer, or an error that is the request's own (400, 404, 422...): held until it has begun,
    /// then relayed to the client unchanged. Either way the deployment works.
    /// </summary>
    private async Task<AttemptResult> AnswerAsync(
        ForwardingRequest request, Deployment deployment, HttpResponseMessage response, long started, TimeSpan elapsed, TimeSpan limit, CancellationTokenSource timeout)
    {
        var group = request.Group;
        var status = (int)response.StatusCode;
        using var buffer = new AnswerBuffer(BufferBytes);
        Stream answer;
        bool ended;
        try
        {
            answer = deployment.Adapter.ReadAnswer(deployment.Endpoint, response, await response.Content.ReadAsStreamAsync(timeout.Token), request.Api);
            ended = await HoldAsync(request, answer, buffer, holdWhole: !IsEventStream(response), timeout);
        }
        catch (Exception exception) when (IsUpstreamFailure(exception, request.Context))
        {
            return Failed(request, deployment, status, started, exception is OperationCanceledException
                ? AttemptResult.TimedOut($"deployment '{deployment.Name}' sent no answer within {Seconds(limit)}")
                : AttemptResult.Failed($"deployment '{deployment.Name}' broke off before its answer began"));
        }

        if (status == StatusCodes.Status400BadRequest && !request.UsedContextWindowFallback
            && request.RequestedGroup.ContextWindowFallbacks.Count > 0 && IsContextLengthError(buffer.Held.Span))
        {
            await answer.DisposeAsync();
            _metrics.Attempt(group.Name, deployment.Name, "context_too_long", status, elapsed);
            return AttemptResult.ContextTooLong($"deployment '{deployment.Name}' says the prompt is over its context length");
        }
        _metrics.Attempt(group.Name, deployment.Name, response.IsSuccessStatusCode ? "success" : "rejected", status, elapsed);
        WriteAnswerHeaders(request, deployment, response, elapsed);
        await using (answer)
        {
            return await RelayAsync(request, deployment, answer, buffer, ended, IsEventStream(response), response.IsSuccessStatusCode, timeout);
        }
    }

    /// <summary>The provider's request message for the deployment; null, with a 400 written, when its provider cannot express the request.</summary>
    private static async ValueTask<HttpRequestMessage?> CreateRequestAsync(ForwardingRequest request, Deployment deployment)
    {
        try
        {
            return deployment.Adapter.CreateRequest(deployment.Endpoint, new ChatRequestBody(request.Body, request.ModelToken, request.Stream, request.StreamOptions, request.Api, request.AnthropicHeaders));
        }
        catch (UntranslatableRequestException exception)
        {
            await OpenAIError.WriteAsync(request.Context, StatusCodes.Status400BadRequest,
                $"Deployment '{deployment.Name}' ({deployment.Adapter.Name}) cannot take this request: {exception.Message}",
                OpenAIError.InvalidRequest, "unsupported_by_provider", exception.Param);
            return null;
        }
    }

    /// <summary>
    /// The attempt's result when the deployment turned the call away — a retryable status (5xx, 429,
    /// 408; its <c>Retry-After</c> kept) or the platform's credential refused (401, 403); null when it
    /// answered.
    /// </summary>
    private async ValueTask<AttemptResult?> RefusalAsync(
        ForwardingRequest request, Deployment deployment, HttpResponseMessage response, TimeSpan elapsed, CancellationToken cancellationToken)
    {
        var group = request.Group;
        var status = (int)response.StatusCode;
        if (IsRetryable(response.StatusCode))
        {
            var now = _timeProvider.GetUtcNow();
            if (response.StatusCode is HttpStatusCode.TooManyRequests or HttpStatusCode.ServiceUnavailable
                && RetryAfter.From(response.Headers, now) is { } wait && wait > TimeSpan.Zero)
            {
                deployment.State.CoolDown(now + wait);
            }
            _metrics.Attempt(group.Name, deployment.Name, "refused", status, elapsed);
            Log.DeploymentRefused(_logger, deployment.Name, group.Name, response.StatusCode);
            var failure = request.LastFailure = $"deployment '{deployment.Name}' answered {status}";
            return response.StatusCode == HttpStatusCode.TooManyRequests ? AttemptResult.Throttled(failure, status) : AttemptResult.Failed(failure, status);
        }

        if (response.StatusCode is HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden)
        {
            // The platform's own key for the deployment is wrong or revoked: not the client's error,
            // and the provider's message may hint at the key. Logged here, never relayed.
            _metrics.Attempt(group.Name, deployment.Name, "refused", status, elapsed);
            Log.DeploymentCredentialRefused(_logger, deployment.Name, group.Name, status, await ProviderErrorTypeAsync(response, cancellationToken));
            var failure = request.LastFailure = $"deployment '{deployment.Name}' refused the platform's credential ({status})";
            return AttemptResult.Failed(failure, status);
        }
        return null;
    }

    /// <summary>The answer's headers: the provider's, and the platform's about the deployment, its time, price and attempts.</summary>
    private static void WriteAnswerHeaders(ForwardingRequest request, Deployment deployment, HttpResponseMessage response, TimeSpan elapsed)
    {
        var answer = request.Context.Response;
        ProxyResponse.CopyHeaders(response, answer);
        answer.Headers[ProxyResponse.DeploymentHeader] = deployment.Name;
        answer.Headers[ProxyResponse.UpstreamTimeHeader] = elapsed.TotalMilliseconds.ToString("0.###", CultureInfo.InvariantCulture);
        answer.Headers[ProxyResponse.AttemptsHeader] = request.Attempts == 1 ? "1" : request.Attempts.ToString(CultureInfo.InvariantCulture);
        answer.Headers[ProxyResponse.PriceHeader] = deployment.PriceHeaderValue;
        if (deployment.Adapter.TranslatesAnswer(deployment.Endpoint, request.Api))
        {
            answer.ContentLength = null;
        }
        if (request.Group != request.RequestedGroup)
        {
            answer.Headers[ProxyResponse.FallbackHeader] = request.Group.Name;
        }
    }

    /// <summary>
    /// Reads until the answer has begun: a stream's first bytes, or a JSON answer whole (up to
    /// <see cref="MaxHeldBytes"/>). The first read runs under the timeout set before the call; the
    /// next ones under the idle timeout. Returns whether the answer has ended.
    /// </summary>
    private async Task<bool> HoldAsync(ForwardingRequest request, Stream answer, AnswerBuffer buffer, bool holdWhole, CancellationTokenSource timeout)
    {
        while (true)
        {
            if (buffer.IsFull && !buffer.TryGrow(MaxHeldBytes))
            {
                return false;
            }
            var read = await answer.ReadAsync(buffer.Free, timeout.Token);
            if (read == 0)
            {
                return true;
            }
            buffer.Count += read;
            if (!holdWhole)
            {
                return false;
            }
            timeout.CancelAfter(Bounded(request, _idle));
        }
    }

    /// <summary>
    /// Sends the held bytes and the rest of the answer to the client as it arrives. Server-sent events
    /// are passed on whole events at a time, so if the stream breaks the client never holds half an
    /// event, and the error event that ends it is one the SDKs can read.
    /// </summary>
    private async Task<AttemptResult> RelayAsync(
        ForwardingRequest request, Deployment deployment, Stream answer, AnswerBuffer buffer, bool ended, bool isEventStream, bool isAnswer, CancellationTokenSource timeout)
    {
        var context = request.Context;
        TokenUsage? usage = null;
        var estimatedOutput = 0;
        // A JSON answer held whole is measured before its headers go; a stream, once it has ended.
        UsageReport? measured = isAnswer && !isEventStream && ended ? MeasureWhole(request, deployment, buffer.Held.Span) : null;
        // A JSON answer too large to hold whole: its usage is read from its end as it passes.
        var tail = isAnswer && !isEventStream && !ended ? new JsonAnswerTail() : null;
        var interrupted = false;
        try
        {
            while (true)
            {
                var complete = Passable(buffer, ended, isEventStream);
                if (complete > 0)
                {
                    var (found, counted) = await PassOnAsync(request, buffer.Held[..complete], readUsage: isAnswer && isEventStream && usage is null);
                    (usage, estimatedOutput) = (usage ?? found, estimatedOutput + counted);
                    tail?.Append(buffer.Held.Span[..complete]);
                    buffer.Consume(complete);
                }
                if (ended)
                {
                    return AttemptResult.Completed;
                }

                var limit = Bounded(request, _idle);
                // Whether this wait ends with the shutdown drain (judged now: the timer may fire a moment early).
                var endsWithDrain = NowTicks + limit.Ticks >= _drain.DeadlineTicks;
                timeout.CancelAfter(limit);
                int read;
                try
                {
                    if (isEventStream && buffer.Count == 0)
                    {
                        // Wait for the next event holding no buffer (a zero-byte read waits for data): a stream
                        // spends most of its life waiting for tokens, and 16 KB held per stream was a third of its memory.
                        buffer.Release();
                        _ = await answer.ReadAsync(Memory<byte>.Empty, timeout.Token);
                    }
                    read = await answer.ReadAsync(buffer.Free, timeout.Token);
                }
                catch (Exception exception) when (IsUpstreamFailure(exception, context))
                {
                    var reason = BrokenOffBecause(exception, endsWithDrain, limit);
                    await EndBrokenAnswerAsync(request, deployment, isEventStream, reason);
                    interrupted = true;
                    return AttemptResult.BrokeOff($"deployment '{deployment.Name}' broke off its answer: {reason}");
                }
                ended = read == 0;
                buffer.Count += read;
            }
        }
        finally
        {
            if (isAnswer)
            {
                usage ??= ended && !interrupted ? tail?.ReadUsage() : null;
                await SettleAsync(request, deployment, (measured ?? Measure(request, deployment, usage, estimatedOutput)) with { Interrupted = interrupted }, isEventStream);
            }
        }
    }

    /// <summary>
    /// Passes bytes of the answer on. With <paramref name="readUsage"/> (a stream whose usage has not
    /// come yet) it reads the usage from them, or counts their content events for an estimate; a usage
    /// chunk the Router asked for and the client did not is counted, not passed on.
    /// </summary>
    private static async ValueTask<(TokenUsage? Usage, int ContentEvents)> PassOnAsync(ForwardingRequest request, ReadOnlyMemory<byte> events, bool readUsage)
    {
        var output = request.Context.Response.BodyWriter;
        var aborted = request.Context.RequestAborted;
        TokenUsage? usage = null;
        var counted = 0;
        if (readUsage && request.Api == ModelApi.Messages)
        {
            // Anthropic's stream tells its usage in two events, both the client's: read as they pass, never taken out.
            var reader = request.StreamUsage ??= new AnthropicStreamUsage();
            reader.Read(events.Span);
            usage = reader.Final;
            counted = UsageReader.CountContentEvents(events.Span, request.Api);
        }
        else if (readUsage && request.Api == ModelApi.Responses)
        {
            // The Responses stream ends with the whole response, its usage included: the client's, never taken out.
            usage = UsageReader.FromResponseEvents(events.Span);
            counted = usage is null ? UsageReader.CountContentEvents(events.Span, request.Api) : 0;
        }
        else if (readUsage)
        {
            usage = UsageReader.FromEvents(events.Span, out var usageEvent);
            var (start, length) = usageEvent.GetOffsetAndLength(events.Length);
            if (usage is null)
            {
                counted = UsageReader.CountContentEvents(events.Span);
            }
            else if (request.StreamOptions != StreamOptionsKind.IncludeUsage)
            {
                await output.WriteAsync(events[..start], aborted);
                events = events[(start + length)..];
            }
        }
        await output.WriteAsync(events, aborted);
        return (usage, counted);
    }

    /// <summary>A JSON answer's usage, read (or estimated) from it whole and put on its headers for the Api.</summary>
    private UsageReport MeasureWhole(ForwardingRequest request, Deployment deployment, ReadOnlySpan<byte> answer)
    {
        var usage = UsageReader.FromJson(answer);
        var report = Measure(request, deployment, usage, usage is null ? _estimator.CountAnswerTokens(answer, deployment.Model) : 0);
        request.Context.Response.Headers[UsageReport.HeaderName] = report.Format();
        return report;
    }

    /// <summary>
    /// How much of what is held may go to the client now: all of it, but of a stream still coming only
    /// its whole events — unless one event fills the buffer, which then goes on in pieces.
    /// </summary>
    private static int Passable(AnswerBuffer buffer, bool ended, bool isEventStream)
    {
        var complete = ended || !isEventStream ? buffer.Count : ServerSentEvents.EndOfLastEvent(buffer.Held.Span);
        return complete == 0 && buffer.IsFull ? buffer.Count : complete;
    }

    /// <summary>An answer's tokens told to the metrics, its span, the deployment's capacity and, after a stream, the Api.</summary>
    private async Task SettleAsync(ForwardingRequest request, Deployment deployment, UsageReport report, bool isEventStream)
    {
        _metrics.TokenUsage(request.Group.Name, deployment.Name, deployment.Model, report.Tokens, report.Estimated);
        TagUsage(Activity.Current, report);
        _capacity.Settle(deployment, request.Size.PerMinute, report.Tokens.InputTokens + report.Tokens.OutputTokens);
        if (isEventStream && request.ReportsUsage && !request.Context.RequestAborted.IsCancellationRequested)
        {
            await EndStreamWithUsageAsync(request.Context, report);
        }
    }

    /// <summary>Why an answer that had begun stopped coming, for the client's error event and the log.</summary>
    private string BrokenOffBecause(Exception exception, bool endedWithDrain, TimeSpan limit) =>
        exception is not OperationCanceledException ? "the connection broke"
        : endedWithDrain ? "this Router replica is shutting down and its drain time is over"
        : limit < _idle ? $"the request reached its total time of {Seconds(_total)}"
        : $"it sent nothing for {Seconds(limit)}";

    /// <summary>
    /// The answer's tokens: as the provider reported them, or — when it reported none (a stream cut
    /// short, the client gone, a server that does not count) — as estimated: the prompt by the
    /// tokenizer, the answer by its content (one token per streamed chunk).
    /// </summary>
    private UsageReport Measure(ForwardingRequest request, Deployment deployment, TokenUsage? reported, int estimatedOutput) =>
        reported is { } usage
            ? new UsageReport(usage, Estimated: false)
            : new UsageReport(new TokenUsage(
                request.PromptTokens > 0 ? request.PromptTokens : _estimator.Estimate(request.Body.Span, deployment.Model, request.Api).PromptTokens,
                estimatedOutput,
                CachedInputTokens: 0), Estimated: true);

    /// <summary>Tells the Api what the stream used, on a comment line after its last event (the Api strips it).</summary>
    private static async Task EndStreamWithUsageAsync(HttpContext context, UsageReport report)
    {
        try
        {
            report.WriteComment(context.Response.BodyWriter);
            await context.Response.BodyWriter.FlushAsync(context.RequestAborted);
        }
        catch (Exception exception) when (exception is OperationCanceledException or IOException)
        {
            // The Api went away in the meantime: it estimates the usage itself.
        }
    }

    /// <summary>A stream ends with an error event and closes cleanly; a JSON answer cannot be mended, so it is aborted.</summary>
    private async Task EndBrokenAnswerAsync(ForwardingRequest request, Deployment deployment, bool isEventStream, string reason)
    {
        Log.StreamBroken(_logger, deployment.Name, request.Group.Name, reason);
        if (!isEventStream)
        {
            // A clean end here would pass a cut answer off as complete; an aborted one cannot be.
            request.Context.Abort();
            return;
        }
        var output = request.Context.Response.BodyWriter;
        OpenAIError.WriteEvent(request.Context, $"The answer of model '{request.Group.Name}' broke off after it began: {reason}.", OpenAIError.Upstream, "stream_interrupted");
        await output.FlushAsync(request.Context.RequestAborted);
    }

    /// <summary>Records an attempt that got no usable answer.</summary>
    private AttemptResult Failed(ForwardingRequest request, Deployment deployment, int? statusCode, long started, AttemptResult result)
    {
        _metrics.Attempt(request.Group.Name, deployment.Name, "failed", statusCode, _timeProvider.GetElapsedTime(started));
        Log.DeploymentFailed(_logger, deployment.Name, request.Group.Name, result.Failure!);
        request.LastFailure = result.Failure;
        return result;
    }

    /// <summary>The <c>error.type</c> (or <c>error.code</c>) of a provider's small JSON error, for the log; never its message.</summary>
    private static async Task<string?> ProviderErrorTypeAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        try
        {
            if (response.Content.Headers.ContentLength is > 64 * 1024)
            {
                return null;
            }
            using var error = JsonDocument.Parse(await response.Content.ReadAsByteArrayAsync(cancellationToken));
            if (!error.RootElement.TryGetProperty("error", out var detail) || detail.ValueKind != JsonValueKind.Object)
            {
                return null;
            }
            foreach (var name in (ReadOnlySpan<string>)["type", "code"])
            {
                if (detail.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String && value.GetString() is { } text)
                {
                    return text.Length <= 64 ? text : text[..64];
                }
            }
            return null;
        }
        catch (Exception exception) when (exception is JsonException or HttpRequestException or IOException or OperationCanceledException)
        {
            return null;
        }
    }

    /// <summary>A provider's "prompt too long" error: OpenAI's and Azure's code and wording, Anthropic's wording.</summary>
    internal static bool IsContextLengthError(ReadOnlySpan<byte> error) =>
        error.IndexOf("context_length_exceeded"u8) >= 0
        || error.IndexOf("maximum context length"u8) >= 0
        || error.IndexOf("prompt is too long"u8) >= 0;

    private void CountBreakerRejections(ModelGroup group, long nowTicks)
    {
        foreach (var deployment in group.Deployments)
        {
            if (!deployment.Breaker.IsAvailable(nowTicks))
            {
                _metrics.BreakerRejection(group.Name, deployment.Name);
            }
        }
    }
}
