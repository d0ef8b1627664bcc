using System.Net;
using AgentPlatform.Contracts.Http;
using AgentPlatform.Contracts.OpenAI;
using AgentPlatform.Contracts.Usage;
using AgentPlatform.Router.Configuration;
using AgentPlatform.Router.Pool;
using AgentPlatform.Router.Telemetry;
using AgentPlatform.ServiceDefaults.Lifecycle;
using AgentPlatform.Tokens;
using Microsoft.Extensions.Options;

namespace AgentPlatform.Router.Forwarding;

/// <summary>
/// Sends a chat completion to a deployment of its model group and streams the answer back.
/// <para>
/// Each attempt goes to a deployment the group picks (lowest priority first, then its strategy) among
/// those whose breaker lets requests through and that have not asked to be left alone. An attempt that
/// gets no usable answer — connection failure, timeout, 408, 429, 5xx, a break before the answer
/// began — is tried again as <see cref="AttemptRetry"/> decides, within the attempt limit, the retry
/// budget and the request's total time.
/// </para>
/// <para>
/// Nothing reaches the client until the answer has begun (a stream's first bytes; a JSON answer
/// whole), so until then a failure is invisible. After it the answer is never re-sent: a stream that
/// breaks or goes idle ends with an OpenAI error event, a JSON answer with an aborted response.
/// </para>
/// </summary>
public sealed partial class ChatForwarder
{
    /// <summary>The buffer an answer is read through; a stream's first read decides that it has begun.</summary>
    private const int BufferBytes = 16 * 1024;

    /// <summary>A JSON answer is held whole up to this size so a break in it can still be retried.</summary>
    private const int MaxHeldBytes = 1024 * 1024;

    private static readonly TimeSpan TimerSlack = TimeSpan.FromMilliseconds(20);

    private readonly UpstreamInvoker _upstream;
    private readonly ModelPool _pool;
    private readonly PromptTokenEstimator _estimator;
    private readonly CapacityLimiter _capacity;
    private readonly RouterMetrics _metrics;
    private readonly TimeProvider _timeProvider;
    private readonly Drain _drain;
    private readonly ILogger<ChatForwarder> _logger;
    private readonly TimeSpan _total;
    private readonly TimeSpan _firstToken;
    private readonly TimeSpan _response;
    private readonly TimeSpan _idle;
    private readonly AttemptRetry _retry;
    private readonly Func<ForwardingRequest, ValueTask<AttemptResult>> _attempt;

    public ChatForwarder(
        UpstreamInvoker upstream,
        ModelPool pool,
        PromptTokenEstimator estimator,
        CapacityLimiter capacity,
        IOptions<RouterOptions> options,
        RouterMetrics metrics,
        TimeProvider timeProvider,
        Random random,
        Drain drain,
        ILogger<ChatForwarder> logger)
    {
        _drain = drain;
        _upstream = upstream;
        _pool = pool;
        _estimator = estimator;
        _capacity = capacity;
        _metrics = metrics;
        _timeProvider = timeProvider;
        _logger = logger;
        var router = options.Value;
        _total = TimeSpan.FromSeconds(router.Timeouts.TotalSeconds);
        _firstToken = TimeSpan.FromSeconds(router.Timeouts.FirstTokenSeconds);
        _response = TimeSpan.FromSeconds(router.Timeouts.ResponseSeconds);
        _idle = TimeSpan.FromSeconds(router.Timeouts.IdleSeconds);

        _retry = new AttemptRetry(router.Retry, random, timeProvider, onRetry: (request, delay, attempt) =>
        {
            _metrics.Retry(request.Group.Name, request.LastDeployment ?? "");
            Log.Retrying(_logger, request.Group.Name, delay.TotalMilliseconds, attempt);
        });
        _attempt = AttemptAsync;
    }

    /// <summary>Answers the request from its group, else from the group's fallbacks in order, else with why none could.</summary>
    public async Task ForwardAsync(HttpContext context, ModelGroup group, ReadOnlyMemory<byte> body, ChatRequestScan scan, ModelApi api = ModelApi.ChatCompletions)
    {
        using var request = NewRequest(context, group, body, scan, api);
        // Groups still to try after this one; made only when a group fails, so an answer from the
        // requested group allocates nothing for fallbacks.
        Queue<ModelGroup>? pending = null;
        var last = AttemptResult.NoneAvailable;
        var fallbackReason = "exhausted";
        for (ModelGroup? next = group; next is not null; next = pending is not null && pending.TryDequeue(out var queued) ? queued : null)
        {
            if (next != group)
            {
                _metrics.Fallback(request.Group.Name, next.Name, fallbackReason);
                request.SwitchTo(next);
            }
            // Too long for this group, by the estimate or by the deployment's word: only the context-window fallbacks can take it.
            var tooLong = next.NeedsTokenEstimate && !TryEstimate(request, next);
            if (!tooLong)
            {
                next.RetryBudget.OnRequest();
                if (await RunAttemptsAsync(request) is not { } result)
                {
                    return; // the client left; nobody to answer
                }
                last = result;
                if (last.HasAnswered)
                {
                    return;
                }
                tooLong = last.Status == AttemptStatus.ContextTooLong;
                if (tooLong)
                {
                    pending?.Clear();
                }
            }
            if (tooLong)
            {
                fallbackReason = "context_window";
                if (await TurnToContextWindowFallbackAsync(request) is not { } wider)
                {
                    return;
                }
                (pending ??= new()).Enqueue(wider);
                continue;
            }
            fallbackReason = "exhausted";
            if (next == group)
            {
                QueueFallbacks(group, ref pending);
            }
        }
        if (!last.HasAnswered && !context.Response.HasStarted)
        {
            await WriteFailureAsync(request, last);
        }
    }

    private ForwardingRequest NewRequest(HttpContext context, ModelGroup group, ReadOnlyMemory<byte> body, ChatRequestScan scan, ModelApi api) =>
        new(context, group, body, scan.ModelToken, scan.Stream, NowTicks + _total.Ticks)
        {
            Api = api,
            AnthropicHeaders = api == ModelApi.Messages
                ? (context.Request.Headers["anthropic-version"].ToString() is { Length: > 0 } version ? version : null,
                    context.Request.Headers["anthropic-beta"].ToString() is { Length: > 0 } beta ? beta : null)
                : default,
            StreamOptions = scan.StreamOptions,
            ReportsUsage = context.Request.Headers.ContainsKey(UsageReport.RequestHeaderName),
            Choices = scan.Choices,
            Client = context.Request.Headers[RouterRequestHeaders.Client],
        };

    /// <summary>The group's fallbacks, in order, after those already queued.</summary>
    private void QueueFallbacks(ModelGroup group, ref Queue<ModelGroup>? pending)
    {
        foreach (var name in group.Fallbacks)
        {
            if (_pool.TryGetGroup(name, out var fallback))
            {
                (pending ??= new()).Enqueue(fallback);
            }
        }
    }

    /// <summary>The attempts on the request's current group, with their retries; null when the client left.</summary>
    private async Task<AttemptResult?> RunAttemptsAsync(ForwardingRequest request)
    {
        AttemptResult? result = null;
        try
        {
            return result = await _retry.ExecuteAsync(request, _attempt);
        }
        catch (OperationCanceledException) when (request.Context.RequestAborted.IsCancellationRequested)
        {
            return null;
        }
        finally
        {
            SettleServerErrors(request, judged: result is not null);
        }
    }

    /// <summary>
    /// Tells the breakers of the 5xx answers the request's attempts on its group got. When some other
    /// attempt ended differently (another deployment answered, timed out, refused otherwise), each is
    /// its deployment's failure. When the request got the same 5xx from every deployment it tried, the
    /// request itself is the likelier cause: it counts once, as a suspect failure of its client, which
    /// opens nothing until other clients' requests fail alike. A request the client left is not judged.
    /// </summary>
    private static void SettleServerErrors(ForwardingRequest request, bool judged)
    {
        var errors = request.ServerErrors;
        request.FailedAlikeEverywhere = false;
        if (errors is not { Count: > 0 })
        {
            return;
        }
        var alike = judged && !request.SawOtherOutcome;
        foreach (var (_, result) in errors)
        {
            alike &= result.UpstreamStatus == errors[0].Result.UpstreamStatus;
        }
        request.FailedAlikeEverywhere = alike;
        for (var i = 0; i < errors.Count; i++)
        {
            var (deployment, result) = errors[i];
            if (!judged || (alike && i > 0))
            {
                deployment.Breaker.OnAbandoned();
                continue;
            }
            // An unnamed client (a caller other than the Api) is taken as a client of its own.
            deployment.Breaker.OnFailure(result.Failure!, alike ? request.Client ?? request.Context.TraceIdentifier : null);
            deployment.State.RecordOutcome(result.Failure);
        }
        errors.Clear();
    }

    /// <summary>Estimates the request's tokens (once) and says whether some deployment of <paramref name="group"/> can take them.</summary>
    private bool TryEstimate(ForwardingRequest request, ModelGroup group)
    {
        if (request.Size == default)
        {
            var model = group.Deployments[0].Model;
            var (prompt, maxOutput) = _estimator.Estimate(request.Body.Span, model, request.Api);
            request.PromptTokens = prompt;
            request.Size = RequestSize.Of(prompt, maxOutput, request.Choices);
        }
        return group.Fits(request.Size);
    }

    /// <summary>
    /// The first context-window fallback of the requested group that can take the request; when there
    /// is none, null, with the 400 OpenAI gives for a prompt over the context length written.
    /// </summary>
    private async Task<ModelGroup?> TurnToContextWindowFallbackAsync(ForwardingRequest request)
    {
        if (!request.UsedContextWindowFallback)
        {
            request.UsedContextWindowFallback = true;
            foreach (var name in request.RequestedGroup.ContextWindowFallbacks)
            {
                if (_pool.TryGetGroup(name, out var fallback) && (!fallback.NeedsTokenEstimate || TryEstimate(request, fallback)))
                {
                    return fallback;
                }
            }
        }
        await OpenAIError.WriteAsync(request.Context, StatusCodes.Status400BadRequest,
            $"The request is about {request.Size.Context} tokens (prompt and max output){(request.Choices > 1 ? $", {request.Size.PerMinute} with all {request.Choices} answers," : "")} more than any deployment of model '{request.RequestedGroup.Name}' or its context-window fallbacks takes. Shorten the messages or lower max_tokens{(request.Choices > 1 ? " or n" : "")}.",
            OpenAIError.InvalidRequest, "context_length_exceeded", "messages");
        return null;
    }

    private long NowTicks => _timeProvider.GetUtcNow().UtcTicks;

    /// <summary>A phase's timeout, cut short when the request's total time, or a shutdown's drain, ends first.</summary>
    private TimeSpan Bounded(ForwardingRequest request, TimeSpan phase)
    {
        var remaining = TimeSpan.FromTicks(Math.Max(1, Math.Min(request.DeadlineTicks, _drain.DeadlineTicks) - NowTicks));
        return remaining < phase ? remaining : phase;
    }

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
