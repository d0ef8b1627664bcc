using System.Diagnostics;
using System.Globalization;
using System.Net;
using AgentPlatform.Router.Pool;
using AgentPlatform.Router.Providers;
using AgentPlatform.Router.Resilience;
using AgentPlatform.Router.Tokens;
using AgentPlatform.ServiceDefaults.Http;
using AgentPlatform.ServiceDefaults.OpenAI;
using Microsoft.Extensions.Options;
using Polly;
using Polly.Retry;

namespace AgentPlatform.Router.Forwarding;

/// <summary>
/// Sends a chat completion to a deployment of its model group and streams the answer back.
/// <para>
/// Each attempt goes to a deployment the group picks (lowest priority first, then its strategy) among
/// those whose breaker lets requests through and that have not asked to be left alone. An attempt that
/// gets no usable answer — connection failure, timeout, 408, 429, 5xx, a break before the answer
/// began — is retried by Polly: at once on a deployment the request has not tried, else after an
/// exponential backoff with full jitter that never ends before a throttled deployment's
/// <c>Retry-After</c>; within the attempt limit, the retry budget and the request's total time.
/// </para>
/// <para>
/// Nothing reaches the client until the answer has begun (a stream's first bytes; a JSON answer
/// whole), so until then a failure is invisible. After it the answer is never re-sent: a stream that
/// breaks or goes idle ends with an OpenAI error event, a JSON answer with an aborted response.
/// </para>
/// </summary>
public sealed class ChatForwarder
{
    /// <summary>The buffer an answer is read through; a stream's first read decides that it has begun.</summary>
    private const int BufferBytes = 16 * 1024;

    /// <summary>A JSON answer is held whole up to this size so a break in it can still be retried.</summary>
    private const int MaxHeldBytes = 1024 * 1024;

    private static readonly TimeSpan TimerSlack = TimeSpan.FromMilliseconds(20);

    private static readonly ResiliencePropertyKey<ForwardingRequest> RequestKey = new("agentplatform.forwarding-request");

    private readonly UpstreamInvoker _upstream;
    private readonly ModelPool _pool;
    private readonly PromptTokenEstimator _estimator;
    private readonly CapacityLimiter _capacity;
    private readonly RouterMetrics _metrics;
    private readonly TimeProvider _timeProvider;
    private readonly Random _random;
    private readonly ILogger<ChatForwarder> _logger;
    private readonly RetryOptions _retry;
    private readonly TimeSpan _total;
    private readonly TimeSpan _firstToken;
    private readonly TimeSpan _response;
    private readonly TimeSpan _idle;
    private readonly ResiliencePipeline<AttemptResult> _pipeline;

    public ChatForwarder(
        UpstreamInvoker upstream,
        ModelPool pool,
        PromptTokenEstimator estimator,
        CapacityLimiter capacity,
        IOptions<RouterOptions> options,
        RouterMetrics metrics,
        TimeProvider timeProvider,
        Random random,
        ILogger<ChatForwarder> logger)
    {
        _upstream = upstream;
        _pool = pool;
        _estimator = estimator;
        _capacity = capacity;
        _metrics = metrics;
        _timeProvider = timeProvider;
        _random = random;
        _logger = logger;
        var router = options.Value;
        _retry = router.Retry;
        _total = TimeSpan.FromSeconds(router.Timeouts.TotalSeconds);
        _firstToken = TimeSpan.FromSeconds(router.Timeouts.FirstTokenSeconds);
        _response = TimeSpan.FromSeconds(router.Timeouts.ResponseSeconds);
        _idle = TimeSpan.FromSeconds(router.Timeouts.IdleSeconds);

        var pipeline = new ResiliencePipelineBuilder<AttemptResult> { TimeProvider = timeProvider };
        if (_retry.MaxAttempts > 1)
        {
            pipeline.AddRetry(new RetryStrategyOptions<AttemptResult>
            {
                MaxRetryAttempts = _retry.MaxAttempts - 1,
                ShouldHandle = static args => ValueTask.FromResult(
                    args.Outcome.Exception is null && Request(args.Context).Forwarder.ShouldRetry(Request(args.Context), args.Outcome.Result)),
                DelayGenerator = static args => ValueTask.FromResult<TimeSpan?>(Request(args.Context).NextDelay),
                OnRetry = args =>
                {
                    var request = Request(args.Context);
                    _metrics.Retry(request.Group.Name, request.LastDeployment ?? "");
                    Log.Retrying(_logger, request.Group.Name, args.RetryDelay.TotalMilliseconds, args.AttemptNumber + 2);
                    return default;
                },
            });
        }
        _pipeline = pipeline.Build();
    }

    public async Task ForwardAsync(HttpContext context, ModelGroup group, ReadOnlyMemory<byte> body, ChatRequestScan scan)
    {
        using var request = new ForwardingRequest(this, context, group, body, scan.ModelToken, scan.Stream, NowTicks + _total.Ticks)
        {
            StreamOptions = scan.StreamOptions,
        };
        var groups = new Queue<ModelGroup>(1);
        groups.Enqueue(group);
        var last = AttemptResult.NoneAvailable;
        var fallbackReason = "exhausted";
        while (groups.TryDequeue(out var next))
        {
            if (next != group)
            {
                _metrics.Fallback(request.Group.Name, next.Name, fallbackReason);
                request.SwitchTo(next);
            }
            if (next.NeedsTokenEstimate && !TryEstimate(request, next))
            {
                // Too long for this group: only the context-window fallbacks can take it.
                fallbackReason = "context_window";
                if (!await TurnToContextWindowFallbackAsync(request, groups))
                {
                    return;
                }
                continue;
            }

            next.RetryBudget.OnRequest();
            var outcome = await RunAttemptsAsync(request);
            if (outcome is not { } result)
            {
                return; // the client left; nobody to answer
            }
            last = result;
            if (last.HasAnswered)
            {
                return;
            }
            if (last.Status == AttemptStatus.ContextTooLong)
            {
                groups.Clear();
                fallbackReason = "context_window";
                if (!await TurnToContextWindowFallbackAsync(request, groups))
                {
                    return;
                }
                continue;
            }
            fallbackReason = "exhausted";
            if (next == group)
            {
                foreach (var name in group.Fallbacks)
                {
                    if (_pool.TryGetGroup(name, out var fallback))
                    {
                        groups.Enqueue(fallback);
                    }
                }
            }
        }
        if (!last.HasAnswered && !context.Response.HasStarted)
        {
            await WriteFailureAsync(request, last);
        }
    }

    /// <summary>The attempts on the request's current group, retried by Polly; null when the client left.</summary>
    private async Task<AttemptResult?> RunAttemptsAsync(ForwardingRequest request)
    {
        var resilience = ResilienceContextPool.Shared.Get(request.Context.RequestAborted);
        resilience.Properties.Set(RequestKey, request);
        try
        {
            return await _pipeline.ExecuteAsync(
                static (resilience, request) => request.Forwarder.AttemptAsync(request),
                resilience,
                request);
        }
        catch (OperationCanceledException) when (request.Context.RequestAborted.IsCancellationRequested)
        {
            return null;
        }
        finally
        {
            ResilienceContextPool.Shared.Return(resilience);
        }
    }

    /// <summary>Estimates the request's tokens (once) and says whether some deployment of <paramref name="group"/> can take them.</summary>
    private bool TryEstimate(ForwardingRequest request, ModelGroup group)
    {
        if (request.Tokens == 0)
        {
            var (prompt, maxOutput) = _estimator.Estimate(request.Body.Span, group.Deployments[0].Model);
            request.PromptTokens = prompt;
            request.Tokens = prompt + maxOutput;
        }
        return group.Fits(request.Tokens);
    }

    /// <summary>
    /// Queues the first context-window fallback of the requested group that can take the request; when
    /// there is none, answers 400 as OpenAI does for a prompt over the context length.
    /// </summary>
    private async Task<bool> TurnToContextWindowFallbackAsync(ForwardingRequest request, Queue<ModelGroup> groups)
    {
        if (!request.UsedContextWindowFallback)
        {
            request.UsedContextWindowFallback = true;
            foreach (var name in request.RequestedGroup.ContextWindowFallbacks)
            {
                if (_pool.TryGetGroup(name, out var fallback) && (!fallback.NeedsTokenEstimate || TryEstimate(request, fallback)))
                {
                    groups.Enqueue(fallback);
                    return true;
                }
            }
        }
        await OpenAIError.WriteAsync(request.Context, StatusCodes.Status400BadRequest,
            $"The request is about {request.Tokens} tokens (prompt and max output), more than any deployment of model '{request.RequestedGroup.Name}' or its context-window fallbacks takes. Shorten the messages or lower max_tokens.",
            OpenAIError.InvalidRequest, "context_length_exceeded", "messages");
        return false;
    }

    private static ForwardingRequest Request(ResilienceContext context) => context.Properties.GetValue(RequestKey, null!);

    private long NowTicks => _timeProvider.GetUtcNow().UtcTicks;

    /// <summary>One attempt: picks a deployment and calls it, reporting the result to its breaker exactly once.</summary>
    private async ValueTask<AttemptResult> AttemptAsync(ForwardingRequest request)
    {
        Deployment deployment;
        while (true)
        {
            var now = NowTicks;
            var picked = request.Group.PickNext(request.Tried, now, request.Tokens);
            if (picked is null)
            {
                // A backoff planned to end with a Retry-After may wake a few ms early (timers tick
                // coarsely); wait out the rest instead of spending an attempt on finding nothing.
                if (request.Group.EarliestAvailableTicks(now, request.Tokens) is { } earliest && earliest > now && earliest - now <= TimerSlack.Ticks)
                {
                    await Task.Delay(TimeSpan.FromTicks(earliest - now + 1), _timeProvider, request.Context.RequestAborted);
                    continue;
                }
                return AttemptResult.NoneAvailable;
            }
            request.Tried.Add(picked);
            if (!picked.Breaker.TryAcquire())
            {
                continue; // lost the half-open probe to another request
            }
            if (await _capacity.TryReserveAsync(picked, request.Tokens) is { } wait)
            {
                // At its Rpm/Tpm: left alone (by this replica) until the reservation would fit.
                picked.Breaker.OnAbandoned();
                picked.State.CoolDown(_timeProvider.GetUtcNow() + wait);
                request.LastFailure = $"deployment '{picked.Name}' is at its capacity (Rpm/Tpm) for another {Seconds(wait)}";
                continue;
            }
            deployment = picked;
            break;
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

    private async Task<AttemptResult> CallAsync(ForwardingRequest request, Deployment deployment)
    {
        var context = request.Context;
        var group = request.Group;
        var timeout = request.AttemptTimeout();
        var phase = request.Stream ? _firstToken : _response;
        var limit = Bounded(request, phase);
        timeout.CancelAfter(limit);

        HttpRequestMessage message;
        try
        {
            message = deployment.Adapter.CreateRequest(deployment, new ChatRequestBody(request.Body, request.ModelToken, request.Stream, request.StreamOptions));
        }
        catch (UntranslatableRequestException exception)
        {
            await OpenAIError.WriteAsync(context, StatusCodes.Status400BadRequest,
                $"Deployment '{deployment.Name}' ({deployment.Adapter.Name}) cannot take this request: {exception.Message}",
                OpenAIError.InvalidRequest, "unsupported_by_provider", exception.Param);
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
            var status = (int)response.StatusCode;
            if (IsRetryable(response.StatusCode))
            {
                if (response.StatusCode is HttpStatusCode.TooManyRequests or HttpStatusCode.ServiceUnavailable
                    && RetryAfter.From(response.Headers, _timeProvider.GetUtcNow()) is { } wait && wait > TimeSpan.Zero)
                {
                    deployment.State.CoolDown(_timeProvider.GetUtcNow() + wait);
                }
                _metrics.Attempt(group.Name, deployment.Name, "refused", status, elapsed);
                Log.DeploymentRefused(_logger, deployment.Name, group.Name, response.StatusCode);
                var failure = request.LastFailure = $"deployment '{deployment.Name}' answered {status}";
                return response.StatusCode == HttpStatusCode.TooManyRequests ? AttemptResult.Throttled(failure) : AttemptResult.Failed(failure);
            }

            // An answer, or an error that is the request's own (400, 401, 404...): the client gets it
            // unchanged. Either way the deployment works.
            using var buffer = new AnswerBuffer(BufferBytes);
            Stream answer;
            bool ended;
            try
            {
                answer = deployment.Adapter.ReadAnswer(response, await response.Content.ReadAsStreamAsync(timeout.Token));
                ended = await HoldAsync(request, answer, buffer, holdWhole: !IsEventStream(response), timeout);
            }
            catch (Exception exception) when (IsUpstreamFailure(exception, context))
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
            ProxyResponse.CopyHeaders(response, context.Response);
            context.Response.Headers[ProxyResponse.DeploymentHeader] = deployment.Name;
            context.Response.Headers[ProxyResponse.UpstreamTimeHeader] = elapsed.TotalMilliseconds.ToString("0.###", CultureInfo.InvariantCulture);
            context.Response.Headers[ProxyResponse.AttemptsHeader] = request.Attempts == 1 ? "1" : request.Attempts.ToString(CultureInfo.InvariantCulture);
            context.Response.Headers[ProxyResponse.PriceHeader] = deployment.PriceHeaderValue;
            if (deployment.Adapter.TranslatesAnswer)
            {
                context.Response.ContentLength = null;
            }
            if (group != request.RequestedGroup)
            {
                context.Response.Headers[ProxyResponse.FallbackHeader] = group.Name;
            }
            await using (answer)
            {
                return await RelayAsync(request, deployment, answer, buffer, ended, IsEventStream(response), response.IsSuccessStatusCode, timeout);
            }
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
        var output = context.Response.BodyWriter;
        TokenUsage? usage = null;
        var estimatedOutput = 0;
        try
        {
            if (isAnswer && !isEventStream && ended)
            {
                usage = UsageReader.FromJson(buffer.Held.Span);
                estimatedOutput = usage is null ? _estimator.CountAnswerTokens(buffer.Held.Span, deployment.Model) : 0;
            }
            while (true)
            {
                var complete = ended || !isEventStream ? buffer.Count : EndOfLastEvent(buffer.Held.Span);
                if (complete == 0 && buffer.IsFull)
                {
                    complete = buffer.Count; // one event larger than the buffer: pass it on in pieces
                }
                if (complete > 0)
                {
                    var events = buffer.Held[..complete];
                    if (isAnswer && isEventStream && usage is null)
                    {
                        usage = UsageReader.FromEvents(events.Span, out var usageEvent);
                        var (start, length) = usageEvent.GetOffsetAndLength(events.Length);
                        if (usage is null)
                        {
                            estimatedOutput += UsageReader.CountContentEvents(events.Span);
                        }
                        else if (request.StreamOptions != StreamOptionsKind.IncludeUsage)
                        {
                            // The Router asked for the usage, not the client: it is counted, not passed on.
                            await output.WriteAsync(events[..start], context.RequestAborted);
                            events = events[(start + length)..];
                        }
                    }
                    await output.WriteAsync(events, context.RequestAborted);
                    buffer.Consume(complete);
                }
                if (ended)
                {
                    return AttemptResult.Completed;
                }

                var limit = Bounded(request, _idle);
                timeout.CancelAfter(limit);
                int read;
                try
                {
                    read = await answer.ReadAsync(buffer.Free, timeout.Token);
                }
                catch (Exception exception) when (IsUpstreamFailure(exception, context))
                {
                    var reason = exception is OperationCanceledException
                        ? limit < _idle ? $"the request reached its total time of {Seconds(_total)}" : $"it sent nothing for {Seconds(limit)}"
                        : "the connection broke";
                    await EndBrokenAnswerAsync(request, deployment, isEventStream, reason);
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
                CountTokens(request, deployment, usage, estimatedOutput);
            }
        }
    }

    /// <summary>
    /// Records the answer's tokens and settles its Tpm reservation: as the provider reported them, or —
    /// when it reported none (a stream cut short, the client gone, a server that does not count) — as
    /// estimated: the prompt by the tokenizer, the answer by its content (one token per streamed chunk).
    /// </summary>
    private void CountTokens(ForwardingRequest request, Deployment deployment, TokenUsage? reported, int estimatedOutput)
    {
        var usage = reported ?? new TokenUsage(
            request.PromptTokens > 0 ? request.PromptTokens : _estimator.Estimate(request.Body.Span, deployment.Model).PromptTokens,
            estimatedOutput,
            CachedInputTokens: 0);
        _metrics.TokenUsage(request.Group.Name, deployment.Name, deployment.Model, usage, estimated: reported is null);
        _capacity.Settle(deployment, request.Tokens, usage.InputTokens + usage.OutputTokens);
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
        OpenAIError.WriteEvent(output, $"The answer of model '{request.Group.Name}' broke off after it began: {reason}.", OpenAIError.Upstream, "stream_interrupted");
        await output.FlushAsync(request.Context.RequestAborted);
    }

    /// <summary>Where the last complete server-sent event in <paramref name="bytes"/> ends (after its blank line); 0 when none.</summary>
    internal static int EndOfLastEvent(ReadOnlySpan<byte> bytes)
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

    /// <summary>
    /// Polly's <c>ShouldHandle</c>: whether to try again and, if so, how long to wait first — nothing
    /// when an untried deployment is available, else a backoff that also outlasts the earliest
    /// <c>Retry-After</c>. No retry when every breaker is open, when the wait would pass the request's
    /// total time or <see cref="RetryOptions.MaxRetryAfterSeconds"/>, or when the retry budget is spent.
    /// </summary>
    private bool ShouldRetry(ForwardingRequest request, AttemptResult result)
    {
        if (!result.IsRetryable)
        {
            return false;
        }
        var group = request.Group;
        var now = NowTicks;
        var delay = TimeSpan.Zero;
        var newRound = false;
        if (group.PickNext(request.Tried, now, request.Tokens) is null)
        {
            if (group.EarliestAvailableTicks(now, request.Tokens) is not { } earliest
                || TimeSpan.FromTicks(earliest - now) > TimeSpan.FromSeconds(_retry.MaxRetryAfterSeconds))
            {
                return false;
            }
            var cap = Math.Min(_retry.MaxDelayMs, _retry.BaseDelayMs * Math.Pow(2, request.Backoffs));
            var backoff = TimeSpan.FromMilliseconds(_random.NextDouble() * cap);
            delay = TimeSpan.FromTicks(Math.Max(earliest - now, backoff.Ticks));
            newRound = true;
        }
        if (now + delay.Ticks >= request.DeadlineTicks)
        {
            return false;
        }
        if (!group.RetryBudget.TryWithdraw())
        {
            request.OutOfRetryBudget = true;
            return false;
        }
        if (newRound)
        {
            request.Backoffs++;
            request.Tried.Clear();
        }
        request.NextDelay = delay;
        return true;
    }

    /// <summary>The answer when no attempt got one: why, with the status that tells the client what to do.</summary>
    private async Task WriteFailureAsync(ForwardingRequest request, AttemptResult last)
    {
        var context = request.Context;
        var group = request.Group;
        var now = NowTicks;
        var failure = request.LastFailure ?? "no deployment is available";
        if (request.OutOfRetryBudget)
        {
            failure += "; the group's retry budget is spent";
        }
        Log.AllDeploymentsFailed(_logger, group.Name, request.Attempts, failure);

        var earliest = group.EarliestAvailableTicks(now, request.Tokens);
        if (last.Status == AttemptStatus.Throttled || (last.Status == AttemptStatus.NoneAvailable && earliest > now))
        {
            SetRetryAfter(context, (earliest ?? now) - now);
            await OpenAIError.WriteAsync(context, StatusCodes.Status429TooManyRequests,
                $"Every deployment of model '{group.Name}' is rate limited: {failure}.", OpenAIError.RateLimit, "upstream_rate_limited");
        }
        else if (last.Status == AttemptStatus.NoneAvailable && earliest is null)
        {
            SetRetryAfter(context, (group.EarliestBreakEndTicks() ?? now) - now);
            await OpenAIError.WriteAsync(context, StatusCodes.Status503ServiceUnavailable,
                $"No deployment of model '{group.Name}' is available: each has failed repeatedly and is taken out of rotation for a while.",
                OpenAIError.Upstream, "upstream_unavailable");
        }
        else
        {
            var timedOut = last.Status == AttemptStatus.TimedOut;
            await OpenAIError.WriteAsync(context, timedOut ? StatusCodes.Status504GatewayTimeout : StatusCodes.Status502BadGateway,
                $"No deployment of model '{group.Name}' could answer: {failure}.", OpenAIError.Upstream, timedOut ? "upstream_timeout" : "upstream_unavailable");
        }
    }

    private static void SetRetryAfter(HttpContext context, long ticks) =>
        context.Response.Headers.RetryAfter = Math.Max(1, (long)Math.Ceiling(TimeSpan.FromTicks(ticks).TotalSeconds)).ToString(CultureInfo.InvariantCulture);

    /// <summary>Records an attempt that got no usable answer.</summary>
    private AttemptResult Failed(ForwardingRequest request, Deployment deployment, int? statusCode, long started, AttemptResult result)
    {
        _metrics.Attempt(request.Group.Name, deployment.Name, "failed", statusCode, _timeProvider.GetElapsedTime(started));
        Log.DeploymentFailed(_logger, deployment.Name, request.Group.Name, result.Failure!);
        request.LastFailure = result.Failure;
        return result;
    }

    /// <summary>A phase's timeout, cut short when the request's total time ends first.</summary>
    private TimeSpan Bounded(ForwardingRequest request, TimeSpan phase)
    {
        var remaining = TimeSpan.FromTicks(Math.Max(1, request.DeadlineTicks - NowTicks));
        return remaining < phase ? remaining : phase;
    }

    /// <summary>A provider's "prompt too long" error: OpenAI's and Azure's code and wording, Anthropic's wording.</summary>
    internal static bool IsContextLengthError(ReadOnlySpan<byte> error) =>
        error.IndexOf("context_length_exceeded"u8) >= 0
        || error.IndexOf("maximum context length"u8) >= 0
        || error.IndexOf("prompt is too long"u8) >= 0;

    /// <summary>A failure of the deployment, not the client leaving (which cancels the same tokens).</summary>
    private static bool IsUpstreamFailure(Exception exception, HttpContext context) =>
        exception is HttpRequestException or IOException or OperationCanceledException && !context.RequestAborted.IsCancellationRequested;

    /// <summary>Statuses that say "not now, not here" rather than "your request is wrong".</summary>
    private static bool IsRetryable(HttpStatusCode status) =>
        status is HttpStatusCode.TooManyRequests or HttpStatusCode.RequestTimeout || (int)status >= 500;

    private static bool IsEventStream(HttpResponseMessage response) =>
        response.Content.Headers.ContentType?.MediaType == "text/event-stream";

    private static string Seconds(TimeSpan time) => $"{time.TotalSeconds:0.###} s";
}

internal enum AttemptStatus
{
    /// <summary>The answer reached the client whole.</summary>
    Completed,

    /// <summary>The answer began but broke off; it cannot be sent again.</summary>
    BrokeOff,

    /// <summary>The Router refused the request itself (the provider cannot express it); the client has its 400.</summary>
    Rejected,

    Failed,
    TimedOut,
    Throttled,

    /// <summary>No deployment could be tried: all tried, throttled or with open breakers.</summary>
    NoneAvailable,

    /// <summary>The provider said the prompt is over its context length; the context-window fallbacks may take it.</summary>
    ContextTooLong,
}

internal readonly record struct AttemptResult(AttemptStatus Status, string? Failure)
{
    public static readonly AttemptResult Completed = new(AttemptStatus.Completed, null);
    public static readonly AttemptResult NoneAvailable = new(AttemptStatus.NoneAvailable, null);
    public static readonly AttemptResult Rejected = new(AttemptStatus.Rejected, null);

    public static AttemptResult BrokeOff(string failure) => new(AttemptStatus.BrokeOff, failure);

    public static AttemptResult Failed(string failure) => new(AttemptStatus.Failed, failure);

    public static AttemptResult TimedOut(string failure) => new(AttemptStatus.TimedOut, failure);

    public static AttemptResult Throttled(string failure) => new(AttemptStatus.Throttled, failure);

    public static AttemptResult ContextTooLong(string failure) => new(AttemptStatus.ContextTooLong, failure);

    /// <summary>Whether the client has its answer (whole or cut short): nothing more may be sent.</summary>
    public bool HasAnswered => Status is AttemptStatus.Completed or AttemptStatus.BrokeOff or AttemptStatus.Rejected;

    /// <summary>Whether another attempt on the same group may help.</summary>
    public bool IsRetryable => !HasAnswered && Status != AttemptStatus.ContextTooLong;
}
