using System.Diagnostics;
using System.Globalization;
using AgentPlatform.Api.Caching;
using AgentPlatform.Api.Limits;
using AgentPlatform.Api.Upstream;
using AgentPlatform.Api.Usage;
using AgentPlatform.Contracts.OpenAI;

namespace AgentPlatform.Api.Pipeline;

/// <summary>
/// The exact-match cache's part of a chat completion: what the request may read and write
/// (<see cref="CachePolicy"/>), a hit answered at once, a miss's answer captured and stored for the
/// requests waiting on it, and the outcome counted.
/// </summary>
public sealed class CacheStage(ResponseCache cache, RequestLimiter limiter)
{
    /// <summary>The request's cache policy; a refusal when its cache headers are wrong.</summary>
    public OpenAIErrorResult? Decide(ChatCall call)
    {
        var (policy, error) = CachePolicy.For(call.Context.Request, call.Client, call.Scan.Model!, cache.Options);
        if (error is not null)
        {
            return OpenAIErrorResult.BadRequest(error, "invalid_cache_ttl");
        }
        call.CachePolicy = policy;
        call.CacheOutcome = "bypass";
        return null;
    }

    /// <summary>
    /// Answers from the cache when it holds the request's answer (true), else prepares the miss: the fill
    /// it owes to others asking for the same, and the capture of the answer to store. A request that wins
    /// the fill may be reserved in its limits by the lookup itself (<paramref name="reserving"/>, see
    /// <see cref="ResponseCache.LookupAsync"/>), leaving <see cref="ChatCall.Reserved"/> set.
    /// </summary>
    public async ValueTask<bool> TryServeHitAsync(ChatCall call, Func<ValueTask<PreparedReservation?>>? reserving)
    {
        var policy = call.CachePolicy;
        if (policy.Bypasses)
        {
            return false;
        }
        var entryKey = ResponseCache.EntryKey(policy.Scope, CacheKey.Compute(call.Body.Memory, call.Api, call.Api == ModelApi.Messages ? AnthropicHeaders(call.Context.Request) : null));
        if (policy.Reads)
        {
            var lookup = await cache.LookupAsync(entryKey, policy.Writes, call.Context.RequestAborted, reserving);
            if (lookup.Hit is { } hit)
            {
                (call.CacheOutcome, call.HitLevel) = ("hit", lookup.Level);
                await ServeHitAsync(call, hit);
                return true;
            }
            call.Fill = lookup.Fill;
            call.Reserved = lookup.Reserved;
        }
        if (policy.Writes)
        {
            call.Fill ??= cache.WriteOnly(entryKey);
            // A stream's events are larger than the JSON kept from them; the JSON's size is checked again.
            call.Answer.CaptureUpTo(policy.MaxEntryBytes * 4);
        }
        call.Answer.CacheOutcome = call.CacheOutcome = "miss";
        return false;
    }

    /// <summary>
    /// Stores the answer for the requests waiting on it and the ones to come, when it may be kept. On one
    /// Redis node the store's script also settles the request's <paramref name="lease"/>: after the answer,
    /// one round trip rather than two (the lease's own settlement then has nothing left to send).
    /// </summary>
    public Task StoreAsync(ChatCall call, RequestLease lease)
    {
        if (call.Fill is not { Finished: false } fill || Cacheable(call) is not { } entry)
        {
            return Task.CompletedTask;
        }
        var (tokens, costNanoUsd) = UsageMeter.Used(call.Record);
        return fill.StoreAsync(entry, call.CachePolicy.Ttl, cache.SettlesInStore ? lease.TakeSettlement(tokens, costNanoUsd) : null);
    }

    /// <summary>Gives up the fill if it was not stored (the requests waiting on it go to the Router) and counts the outcome.</summary>
    public async ValueTask FinishAsync(ChatCall call)
    {
        if (call.Fill is not null)
        {
            await call.Fill.DisposeAsync();
        }
        if (call.CacheOutcome is not null)
        {
            cache.Metrics.Request(call.CacheOutcome, call.HitLevel);
        }
    }

    /// <summary>The entry an answer makes, or null when it must not be kept: not a whole successful answer, or too large.</summary>
    private static CachedAnswer? Cacheable(ChatCall call)
    {
        var (record, policy) = (call.Record, call.CachePolicy);
        if (record.Outcome != UsageOutcomes.Success || WholeAnswer(call) is not { } json || json.Length > policy.MaxEntryBytes)
        {
            return null;
        }
        return new CachedAnswer(json, record.PromptTokens, record.CachedTokens, record.CompletionTokens, record.CostUsd, record.Deployment);
    }

    /// <summary>
    /// The answer as its door's JSON when it came whole and successful from the Router (a stream assembled into
    /// the JSON a request without <c>stream</c> would have got), else null; worked out once per call, for the
    /// cache and the door's <see cref="ChatCall.Keeper"/> alike.
    /// </summary>
    public static byte[]? WholeAnswer(ChatCall call)
    {
        if (call.WholeAnswer is { } known)
        {
            return known.Length == 0 ? null : known;
        }
        var answer = call.Answer;
        byte[]? json = null;
        if (answer is { Status: StatusCodes.Status200OK, Delivered: true, Broken: false, Capture: { } capture })
        {
            json = !answer.IsEventStream ? capture.WrittenSpan.ToArray()
                : call.Api == ModelApi.Messages ? MessageEvents.Assemble(capture.WrittenSpan)
                : call.Api == ModelApi.Responses ? ResponseEvents.Assemble(capture.WrittenSpan)
                : StreamedAnswer.Assemble(capture.WrittenSpan, answer.Usage);
            if (json is not null && !answer.IsEventStream && !CachedAnswer.IsComplete(json, call.Api))
            {
                json = null;
            }
        }
        call.WholeAnswer = json ?? [];
        return json;
    }

    /// <summary>What of Anthropic's headers can change a Messages answer (the API version, beta features): part of its cache key.</summary>
    private static string AnthropicHeaders(HttpRequest request) => $"{request.Headers["anthropic-version"]}\n{request.Headers["anthropic-beta"]}";

    /// <summary>
    /// Answers from the cache: as JSON, or replayed as a stream for a streaming request. It costs the
    /// client nothing; whether it counts against the rate limits is <see cref="CacheOptions.HitsCountTowardRequests"/>.
    /// </summary>
    private async Task ServeHitAsync(ChatCall call, CachedAnswer hit)
    {
        var (context, record, scan) = (call.Context, call.Record, call.Scan);
        if (cache.Options.HitsCountTowardRequests && call.Client.IsLimited)
        {
            var demand = new Demand(cache.Options.HitsCountTowardTokens ? hit.TotalTokens : 0, CostNanoUsd: 0);
            if ((await limiter.AcquireAsync(call.Client, demand, context.Response.Headers, momentary: true)).Refusal is { } refusal)
            {
                await refusal.ExecuteAsync(context);
                return;
            }
        }
        var response = context.Response;
        response.Headers[RouterClient.CacheHeader] = "hit";
        var overhead = Stopwatch.GetElapsedTime(call.Started).TotalMilliseconds;
        response.Headers[RouterClient.OverheadHeader] = overhead.ToString("0.###", CultureInfo.InvariantCulture);
        record.OverheadMs = overhead;
        record.SavedTokens = hit.TotalTokens;
        record.SavedCostUsd = hit.CostUsd;
        cache.Metrics.Saved(hit, scan.Model!);
        var body = call.Keeper is { } keeper ? keeper.OwnCachedAnswer(hit.Body.Span) : hit.Body;
        if (scan.Stream)
        {
            response.ContentType = "text/event-stream";
            response.Headers.CacheControl = "no-cache";
            switch (call.Api)
            {
                case ModelApi.Messages: MessageEvents.WriteEventStream(response.BodyWriter, body); break;
                case ModelApi.Responses: ResponseEvents.WriteEventStream(response.BodyWriter, body); break;
                default: hit.WriteEventStream(response.BodyWriter, includeUsage: scan.StreamOptions == StreamOptionsKind.IncludeUsage); break;
            }
        }
        else
        {
            response.ContentType = "application/json";
            response.ContentLength = body.Length;
            await response.BodyWriter.WriteAsync(body, context.RequestAborted);
        }
        await response.BodyWriter.FlushAsync(context.RequestAborted);
        if (call.Keeper is not null)
        {
            await call.Keeper.KeepAsync(body);
        }
    }
}
