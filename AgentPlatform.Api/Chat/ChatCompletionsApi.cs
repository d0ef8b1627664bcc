using System.Buffers;
using System.Diagnostics;
using System.Globalization;
using AgentPlatform.Api.Agents;
using AgentPlatform.Api.Caching;
using AgentPlatform.Api.Limits;
using AgentPlatform.Api.Tenancy;
using AgentPlatform.Api.Upstream;
using AgentPlatform.Api.Usage;
using AgentPlatform.Contracts.OpenAI;
using AgentPlatform.ServiceDefaults.Http;
using Microsoft.Extensions.Options;

namespace AgentPlatform.Api.Chat;

/// <summary>The OpenAI-compatible public surface: chat completions and the model list.</summary>
public static class ChatCompletionsApi
{
    public static IEndpointRouteBuilder MapChatCompletionsApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/v1").WithTags("OpenAI");
        // Written straight to the response stream, not through TypedResults: the answer streams from
        // the Router as it arrives, with nothing buffered or re-serialized on the way.
        api.MapPost("/chat/completions", CreateAsync)
            .WithName("CreateChatCompletion")
            .WithSummary("Creates a chat completion (JSON or server-sent events) through the model pool.");
        api.MapGet("/models", ListModelsAsync)
            .WithName("ListModels")
            .WithSummary("Lists the models (model groups) this key may use.");
        api.MapFallback(NotFoundAsync).WithName("UnknownRoute");
        return app;
    }

    private static async Task CreateAsync(
        HttpContext context, ClientAuthenticator authenticator, RequestLimiter limiter, RouterClient router, UsageMeter meter,
        ResponseCache cache, IOptions<ApiOptions> options)
    {
        var started = Stopwatch.GetTimestamp();
        // A refused credential leaves no usage record (agentplatform.auth.failures counts it): made-up
        // keys must not fill the ledger. Every authenticated request leaves one, whatever ends it.
        if (await authenticator.AuthenticateAsync(context) is not { } client)
        {
            return;
        }
        var record = meter.Start(context);
        var forwarded = false;
        var handedToAgent = false;
        CacheFill? fill = null;
        string? cacheOutcome = null, hitLevel = null;
        try
        {
            record.TenantId = client.Tenant?.Id;
            record.KeyId = client.Key?.Id;

            if (await limiter.RefusedBeforeBodyAsync(context, client))
            {
                return;
            }
            var maxBytes = options.Value.MaxRequestBodyBytes;
            using var body = await PooledRequestBody.ReadOrDrainAsync(context, maxBytes);
            if (body is null)
            {
                await OpenAIError.WriteAsync(context, StatusCodes.Status413PayloadTooLarge,
                    $"The request body is larger than the limit of {maxBytes} bytes.", OpenAIError.InvalidRequest, "request_too_large");
                return;
            }

            var scan = ChatRequestScanner.Scan(body.Span);
            if (!scan.IsValid)
            {
                var (message, param) = ChatRequestScanner.Describe(scan.Problem);
                await OpenAIError.WriteAsync(context, StatusCodes.Status400BadRequest, message, OpenAIError.InvalidRequest, param: param);
                return;
            }
            if (AgentCompletions.IsAgentModel(scan.Model!))
            {
                // A run of its own: its model steps are the requests the ledger and the metrics count.
                handedToAgent = true;
                meter.Metrics.HandedOver();
                var services = context.RequestServices;
                await AgentCompletions.CreateAsync(context, client, body.Memory, scan,
                    services.GetRequiredService<AgentStore>(), services.GetRequiredService<AgentRunner>(), limiter, services.GetRequiredService<TimeProvider>());
                return;
            }
            record.Stream = scan.Stream;

            if (scan.Choices > options.Value.MaxChoices)
            {
                await OpenAIError.WriteAsync(context, StatusCodes.Status400BadRequest,
                    $"'n' may be at most {options.Value.MaxChoices} here (AgentPlatform:MaxChoices); this request asks for {scan.Choices} answers.",
                    OpenAIError.InvalidRequest, "invalid_value", "n");
                return;
            }
            if (!client.AllowsModel(scan.Model!))
            {
                await OpenAIError.WriteAsync(context, StatusCodes.Status403Forbidden,
                    $"This key may not use the model '{scan.Model}'.", OpenAIError.Permission, "model_not_allowed", "model");
                return;
            }
            // Allowed: the name is kept (a model the pool does not know goes back to "unknown" below).
            record.Model = scan.Model;

            var (policy, cacheError) = CachePolicy.For(context.Request, client, scan.Model!, cache.Options);
            if (cacheError is not null)
            {
                await OpenAIError.WriteAsync(context, StatusCodes.Status400BadRequest, cacheError, OpenAIError.InvalidRequest, "invalid_cache_ttl");
                return;
            }
            var answer = new RouterAnswer();
            cacheOutcome = "bypass";
            if (!policy.Bypasses)
            {
                var entryKey = ResponseCache.EntryKey(policy.Scope, CacheKey.Compute(body.Memory));
                if (policy.Reads)
                {
                    var lookup = await cache.LookupAsync(entryKey, policy.Writes, context.RequestAborted);
                    if (lookup.Hit is { } hit)
                    {
                        (cacheOutcome, hitLevel) = ("hit", lookup.Level);
                        await ServeHitAsync(context, client, limiter, cache, hit, scan, record, started);
                        return;
                    }
                    fill = lookup.Fill;
                }
                if (policy.Writes)
                {
                    fill ??= cache.WriteOnly(entryKey);
                    answer.Capture = new ArrayBufferWriter<byte>(4096);
                    // A stream's events are larger than the JSON kept from them; the JSON's size is checked again.
                    answer.CaptureLimit = policy.MaxEntryBytes * 4;
                }
                answer.CacheOutcome = cacheOutcome = "miss";
            }

            if (await meter.DemandAsync(context, client, scan.Model!, scan.Choices, body.Memory, record) is not { } demand)
            {
                return;
            }
            await using var lease = await limiter.AcquireAsync(context, client, demand);
            if (lease is null)
            {
                return;
            }
            forwarded = true;
            var delivered = false;
            if (scan.Stream)
            {
                meter.Metrics.StreamStarted();
            }
            try
            {
                await router.ForwardAsync(context, HttpMethod.Post, "/v1/chat/completions", body.Memory, started, answer, client.RouterClientId);
                delivered = true;
                if (answer is { Status: StatusCodes.Status404NotFound, Deployment: null })
                {
                    record.Model = UsageRecord.UnknownModel; // no such model group: a name the client made up is not kept
                }
            }
            finally
            {
                if (scan.Stream)
                {
                    meter.Metrics.StreamEnded();
                }
                record.LatencyMs = Math.Round(Stopwatch.GetElapsedTime(started).TotalMilliseconds, 3);
                if (answer.FirstContentAt > 0)
                {
                    record.TimeToFirstTokenMs = Math.Round(Stopwatch.GetElapsedTime(started, answer.FirstContentAt).TotalMilliseconds, 3);
                }
                // Also when the client left mid-answer: what it got is counted and paid for.
                meter.Measure(record, answer, body.Span);
                if (!delivered)
                {
                    await lease.SettleAsync(record.TotalTokens, BudgetPeriod.ToNanoUsd(record.CostUsd));
                }
            }
            // The bookkeeping (settling the limits, storing the answer) is sent to Redis before the response
            // ends, so the client's next call sees it, but the client does not wait for Redis to confirm it.
            var settling = lease.SettleAsync(record.TotalTokens, BudgetPeriod.ToNanoUsd(record.CostUsd));
            var storing = fill is not null && Cacheable(answer, record, policy) is { } entry ? fill.StoreAsync(entry, policy.Ttl) : Task.CompletedTask;
            if (!answer.Broken && !context.RequestAborted.IsCancellationRequested)
            {
                await context.Response.CompleteAsync();
            }
            await settling;
            await storing;
        }
        finally
        {
            if (fill is not null)
            {
                await fill.DisposeAsync();
            }
            if (cacheOutcome is not null)
            {
                cache.Metrics.Request(cacheOutcome, hitLevel);
            }
            if (!handedToAgent)
            {
                await meter.FinishAsync(context, record, started, forwarded);
            }
        }
    }

    /// <summary>The entry an answer makes, or null when it must not be kept: not a whole successful answer, or too large.</summary>
    private static CachedAnswer? Cacheable(RouterAnswer answer, UsageRecord record, CachePolicy policy)
    {
        if (answer is not { Status: StatusCodes.Status200OK, Delivered: true, Broken: false, Capture: { } capture }
            || record.Outcome != UsageOutcomes.Success)
        {
            return null;
        }
        var json = answer.IsEventStream ? StreamedAnswer.Assemble(capture.WrittenSpan, answer.Usage) : capture.WrittenSpan.ToArray();
        if (json is null || json.Length > policy.MaxEntryBytes || (!answer.IsEventStream && !CachedAnswer.IsComplete(json)))
        {
            return null;
        }
        return new CachedAnswer(json, record.PromptTokens, record.CachedTokens, record.CompletionTokens, record.CostUsd, record.Deployment);
    }

    /// <summary>
    /// Answers from the cache: as JSON, or replayed as a stream for a streaming request. It costs the
    /// client nothing; whether it counts against the rate limits is <see cref="CacheOptions.HitsCountTowardRequests"/>.
    /// </summary>
    private static async Task ServeHitAsync(
        HttpContext context, ClientIdentity client, RequestLimiter limiter, ResponseCache cache, CachedAnswer hit,
        ChatRequestScan scan, UsageRecord record, long started)
    {
        if (cache.Options.HitsCountTowardRequests && client.IsLimited)
        {
            var demand = new Demand(cache.Options.HitsCountTowardTokens ? hit.TotalTokens : 0, CostNanoUsd: 0);
            if (await limiter.AcquireAsync(context, client, demand, momentary: true) is null)
            {
                return;
            }
        }
        var response = context.Response;
        response.Headers[RouterClient.CacheHeader] = "hit";
        var overhead = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
        response.Headers[RouterClient.OverheadHeader] = overhead.ToString("0.###", CultureInfo.InvariantCulture);
        record.OverheadMs = overhead;
        record.SavedTokens = hit.TotalTokens;
        record.SavedCostUsd = hit.CostUsd;
        cache.Metrics.Saved(hit, scan.Model!);
        if (scan.Stream)
        {
            response.ContentType = "text/event-stream";
            response.Headers.CacheControl = "no-cache";
            hit.WriteEventStream(response.BodyWriter, includeUsage: scan.StreamOptions == StreamOptionsKind.IncludeUsage);
        }
        else
        {
            response.ContentType = "application/json";
            response.ContentLength = hit.Body.Length;
            await response.BodyWriter.WriteAsync(hit.Body, context.RequestAborted);
        }
        await response.BodyWriter.FlushAsync(context.RequestAborted);
    }

    private static async Task ListModelsAsync(HttpContext context, ClientAuthenticator authenticator, RouterClient router)
    {
        var started = Stopwatch.GetTimestamp();
        if (await authenticator.AuthenticateAsync(context) is not { } client)
        {
            return;
        }
        if (!client.RestrictsModels)
        {
            await router.ForwardAsync(context, HttpMethod.Get, "/v1/models", body: null, started);
            return;
        }
        var models = await router.GetModelsAsync(context.RequestAborted);
        await context.Response.WriteAsJsonAsync(new { @object = "list", data = models.Where(m => client.AllowsModel(m.Id)) }, context.RequestAborted);
    }

    private static Task NotFoundAsync(HttpContext context) =>
        OpenAIError.WriteAsync(context, StatusCodes.Status404NotFound,
            $"Unknown request URL: {context.Request.Method} {context.Request.Path}.", OpenAIError.InvalidRequest, "unknown_url");
}
