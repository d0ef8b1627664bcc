using AgentPlatform.Router.Configuration;
using Polly;
using Polly.Retry;

namespace AgentPlatform.Router.Forwarding;

/// <summary>
/// The retry of a request's attempts on its model group: a Polly retry strategy over the attempts'
/// results. It tries again at once when the group has a deployment the request has not tried, else
/// after an exponential backoff with full jitter that never ends before the earliest <c>Retry-After</c>;
/// never when every breaker is open, when the wait would pass the request's total time or
/// <see cref="RetryOptions.MaxRetryAfterSeconds"/>, or when the group's retry budget is spent. The
/// attempt itself picks the deployment: the decision only asks whether one is there.
/// </summary>
internal sealed class AttemptRetry
{
    private static readonly ResiliencePropertyKey<ForwardingRequest> RequestKey = new("agentplatform.forwarding-request");
    private static readonly ResiliencePropertyKey<TimeSpan> DelayKey = new("agentplatform.retry-delay");

    private readonly RetryOptions _options;
    private readonly Random _random;
    private readonly TimeProvider _timeProvider;
    private readonly ResiliencePipeline<AttemptResult> _pipeline;

    /// <param name="onRetry">Told of each retry before its wait: the request, the wait, and the number of the attempt to come.</param>
    public AttemptRetry(RetryOptions options, Random random, TimeProvider timeProvider, Action<ForwardingRequest, TimeSpan, int>? onRetry = null)
    {
        _options = options;
        _random = random;
        _timeProvider = timeProvider;
        var pipeline = new ResiliencePipelineBuilder<AttemptResult> { TimeProvider = timeProvider };
        if (options.MaxAttempts > 1)
        {
            pipeline.AddRetry(new RetryStrategyOptions<AttemptResult>
            {
                MaxRetryAttempts = options.MaxAttempts - 1,
                ShouldHandle = args => ValueTask.FromResult(args.Outcome.Exception is null && Decide(args.Context, args.Outcome.Result)),
                DelayGenerator = static args => ValueTask.FromResult<TimeSpan?>(args.Context.Properties.GetValue(DelayKey, TimeSpan.Zero)),
                OnRetry = args =>
                {
                    onRetry?.Invoke(args.Context.Properties.GetValue(RequestKey, null!), args.RetryDelay, args.AttemptNumber + 2);
                    return default;
                },
            });
        }
        _pipeline = pipeline.Build();
    }

    /// <summary>Runs <paramref name="attempt"/> on the request's current group until its result needs no retry.</summary>
    public async ValueTask<AttemptResult> ExecuteAsync(ForwardingRequest request, Func<ForwardingRequest, ValueTask<AttemptResult>> attempt)
    {
        var context = ResilienceContextPool.Shared.Get(request.Context.RequestAborted);
        context.Properties.Set(RequestKey, request);
        try
        {
            return await _pipeline.ExecuteAsync(static (_, state) => state.attempt(state.request), context, (attempt, request));
        }
        finally
        {
            ResilienceContextPool.Shared.Return(context);
        }
    }

    private bool Decide(ResilienceContext context, AttemptResult result)
    {
        if (NextDelay(context.Properties.GetValue(RequestKey, null!), result) is not { } delay)
        {
            return false;
        }
        context.Properties.Set(DelayKey, delay);
        return true;
    }

    /// <summary>
    /// How long to wait before trying the request again after <paramref name="result"/>; null when it
    /// must not be. A new round of backoff forgets which deployments the request tried.
    /// </summary>
    internal TimeSpan? NextDelay(ForwardingRequest request, AttemptResult result)
    {
        if (!result.IsRetryable)
        {
            return null;
        }
        var group = request.Group;
        var now = _timeProvider.GetUtcNow().UtcTicks;
        var delay = TimeSpan.Zero;
        var newRound = !group.HasUntried(request.Tried, now, request.Size);
        if (newRound)
        {
            if (group.EarliestAvailableTicks(now, request.Size) is not { } earliest
                || TimeSpan.FromTicks(earliest - now) > TimeSpan.FromSeconds(_options.MaxRetryAfterSeconds))
            {
                return null;
            }
            var cap = Math.Min(_options.MaxDelayMs, _options.BaseDelayMs * Math.Pow(2, request.Backoffs));
            var backoff = TimeSpan.FromMilliseconds(_random.NextDouble() * cap);
            delay = TimeSpan.FromTicks(Math.Max(earliest - now, backoff.Ticks));
        }
        if (now + delay.Ticks >= request.DeadlineTicks)
        {
            return null;
        }
        if (!group.RetryBudget.TryWithdraw())
        {
            request.OutOfRetryBudget = true;
            return null;
        }
        if (newRound)
        {
            request.Backoffs++;
            request.Tried.Clear();
        }
        return delay;
    }
}
