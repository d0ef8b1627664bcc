using System.Diagnostics;
using AgentPlatform.Api.Access;
using AgentPlatform.Api.Limits;
using AgentPlatform.Api.Upstream;
using AgentPlatform.Api.Usage;
using AgentPlatform.Contracts.OpenAI;
using Microsoft.Extensions.Options;

namespace AgentPlatform.Api.Pipeline;

/// <summary>
/// The stages a chat completion passes at the edge, in order: authenticated already (the
/// <see cref="AccessPolicies.Client"/> policy), admitted before its body is read, read and checked,
/// answered from the cache, reserved in its limits and budgets, forwarded to the Router, then settled,
/// stored and recorded. A stage that refuses the request returns the answer that says why; the stages
/// themselves are small classes and functions of their own (<see cref="ChatRequestChecks"/>,
/// <see cref="CacheStage"/>, <see cref="UsageMeter"/>, <see cref="RequestLimiter"/>).
/// </summary>
public sealed class ChatPipeline(RequestLimiter limiter, CacheStage cache, UsageMeter meter, RouterClient router, IOptions<ApiOptions> options)
{
    private readonly ApiOptions _options = options.Value;

    /// <summary>A call for an authenticated request: it leaves a usage record, whatever ends it, when disposed.</summary>
    public ChatCall Start(HttpContext context, ClientIdentity client, ModelApi api = ModelApi.ChatCompletions)
    {
        var started = Stopwatch.GetTimestamp();
        var record = meter.Start(context);
        record.TenantId = client.Tenant?.Id;
        record.KeyId = client.Key?.Id;
        record.Door = api.RecordName();
        return new ChatCall(context, client, record, started, this, api);
    }

    /// <summary>Admits the request before its body is read (a throttled client costs no parsing), then reads and scans the body.</summary>
    public async ValueTask<OpenAIErrorResult?> ReadAsync(ChatCall call) =>
        limiter.RefusedBeforeBody(call.Client) ?? await ChatRequestChecks.ReadAsync(call, _options.MaxRequestBodyBytes);

    /// <summary>An agent run takes the request over: its model steps are the requests counted and recorded.</summary>
    public void HandOver(ChatCall call)
    {
        call.HandOver();
        meter.Metrics.HandedOver();
    }

    /// <summary>The rest of the stages, for a request to a model group: checks, cache, reservation, the Router, bookkeeping.</summary>
    public async Task CompleteAsync(ChatCall call)
    {
        call.Record.Stream = call.Scan.Stream;
        if ((ChatRequestChecks.Check(call, _options.MaxChoices) ?? cache.Decide(call)) is { } refusal)
        {
            await refusal.ExecuteAsync(call.Context);
            return;
        }
        if (await cache.TryServeHitAsync(call, call.Client.IsLimited ? () => PrepareReservationAsync(call) : null))
        {
            return;
        }
        if (await ReserveAsync(call) is not { } lease)
        {
            return;
        }
        await using (lease)
        {
            await ForwardAsync(call, lease);
            if (call.Keeper is { } keeper && CacheStage.WholeAnswer(call) is { } answer)
            {
                await keeper.KeepAsync(answer);
            }
            // The bookkeeping (storing the answer, settling the limits: one script on one Redis node) is sent to
            // Redis before the response ends, so the client's next call sees it, but the client does not wait for
            // Redis to confirm it. The store goes first: it may take the settlement, which then sends nothing.
            var storing = cache.StoreAsync(call, lease);
            var settling = UsageMeter.SettleAsync(lease, call.Record);
            if (!call.Answer.Broken && !call.Context.RequestAborted.IsCancellationRequested)
            {
                await call.Context.Response.CompleteAsync();
            }
            await settling;
            await storing;
        }
    }

    /// <summary>Sizes the request and takes it out of its limits (unless the cache's lookup did); null (with the refusal answered) when they refuse it.</summary>
    private async ValueTask<RequestLease?> ReserveAsync(ChatCall call)
    {
        if (await SizeAsync(call) is not { } sizing)
        {
            await UsageMeter.BudgetUnavailable.ExecuteAsync(call.Context);
            return null;
        }
        call.Record.PromptTokens = sizing.PromptTokens; // until the answer says otherwise
        var headers = call.Context.Response.Headers;
        var (lease, refusal) = call.Reserved is var (prepared, result)
            ? limiter.Conclude(call.Client, prepared, result, headers)
            : await limiter.AcquireAsync(call.Client, sizing.Demand, headers);
        if (refusal is not null)
        {
            await refusal.ExecuteAsync(call.Context);
        }
        return lease;
    }

    /// <summary>The request's size, worked out once: the cache's lookup may ask for it first (<see cref="PrepareReservationAsync"/>).</summary>
    private async ValueTask<Sizing?> SizeAsync(ChatCall call) => call.Sizing ??= await meter.SizeRequestAsync(call);

    /// <summary>The request's reservation, ready for the cache's lookup to take in its own script; null when it cannot be sized.</summary>
    private async ValueTask<PreparedReservation?> PrepareReservationAsync(ChatCall call) =>
        await SizeAsync(call) is { } sizing ? limiter.Prepare(call.Client, sizing.Demand) : null;

    /// <summary>Sends the request to the Router and streams its answer back; what it used is measured however it ends.</summary>
    private async Task ForwardAsync(ChatCall call, RequestLease lease)
    {
        call.Forwarded = true;
        var (answer, record) = (call.Answer, call.Record);
        var delivered = false;
        if (call.Scan.Stream)
        {
            meter.Metrics.StreamStarted();
        }
        try
        {
            await router.ForwardAsync(call.Context, HttpMethod.Post, call.Api.Path(), call.Body.Memory, call.Started, answer, call.Client.RouterClientId);
            delivered = true;
            if (answer is { Status: StatusCodes.Status404NotFound, Deployment: null })
            {
                record.Model = UsageRecord.UnknownModel; // no such model group: a name the client made up is not kept
            }
        }
        finally
        {
            if (call.Scan.Stream)
            {
                meter.Metrics.StreamEnded();
            }
            record.LatencyMs = Math.Round(Stopwatch.GetElapsedTime(call.Started).TotalMilliseconds, 3);
            if (answer.FirstContentAt > 0)
            {
                record.TimeToFirstTokenMs = Math.Round(Stopwatch.GetElapsedTime(call.Started, answer.FirstContentAt).TotalMilliseconds, 3);
            }
            // Also when the client left mid-answer: what it got is counted and paid for.
            meter.Measure(call);
            if (!delivered)
            {
                await UsageMeter.SettleAsync(lease, record);
            }
        }
    }

    /// <summary>Ends the call: the cache fill is given up if not stored, the cache outcome counted, the record kept.</summary>
    internal async ValueTask FinishAsync(ChatCall call)
    {
        await cache.FinishAsync(call);
        if (!call.HandedOver)
        {
            await meter.FinishAsync(call);
        }
    }
}
