using AgentPlatform.Contracts.OpenAI;
using AgentPlatform.ServiceDefaults.Health;
using AgentPlatform.ServiceDefaults.Http;
using AgentPlatform.ServiceDefaults.Lifecycle;
using AgentPlatform.ServiceDefaults.Security;
using AgentPlatform.ServiceDefaults.Telemetry;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;

namespace Microsoft.Extensions.Hosting;

/// <summary>
/// What every AgentPlatform service shares: telemetry, health checks, service discovery,
/// resilient outgoing HTTP and request ids on every log line.
/// </summary>
public static class Extensions
{
    private const string HealthEndpointPath = "/health";
    private const string AlivenessEndpointPath = "/alive";
    private const string MetricsEndpointPath = "/metrics";

    /// <summary>The scrape credential of <c>/metrics</c>; without it the metrics are not served over HTTP.</summary>
    public const string MetricsKeyName = "AgentPlatform:MetricsKey";

    public static TBuilder AddServiceDefaults<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder
    {
        builder.ConfigureLogging();
        builder.ConfigureOpenTelemetry();
        builder.AddDrain();
        builder.AddDefaultHealthChecks();

        builder.Services.AddServiceDiscovery();
        builder.Services.ConfigureHttpClientDefaults(http =>
        {
            // Clients that call other services or providers get the standard pipeline (rate limiter,
            // total timeout, retry, circuit breaker, attempt timeout). The clients that carry chat
            // completions opt out with RemoveAllResilienceHandlers(): a completion must never be
            // re-sent by a generic handler, and a 30 s total timeout would cut long streams.
            http.AddStandardResilienceHandler();
            http.AddServiceDiscovery();
        });

        builder.Services.AddRequestIds();
        return builder;
    }

    private static void ConfigureLogging(this IHostApplicationBuilder builder)
    {
        // Structured JSON on the console outside Development, so log shippers get fields, not text.
        // Scopes are included: the request id scope is how every line of a request carries its id.
        if (!builder.Environment.IsDevelopment())
        {
            builder.Logging.AddJsonConsole(options =>
            {
                options.IncludeScopes = true;
                options.UseUtcTimestamp = true;
                options.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ";
            });
        }
        else
        {
            builder.Logging.AddSimpleConsole(options => options.IncludeScopes = true);
        }
    }

    private static void ConfigureOpenTelemetry(this IHostApplicationBuilder builder)
    {
        builder.Logging.AddOpenTelemetry(logging =>
        {
            logging.IncludeFormattedMessage = true;
            logging.IncludeScopes = true;
        });

        builder.Services.AddOpenTelemetry()
            .WithMetrics(metrics => metrics
                .AddAspNetCoreInstrumentation()
                .AddHttpClientInstrumentation()
                .AddRuntimeInstrumentation()
                .AddMeter(PlatformTelemetry.MeterNames)
                // Pulled by Prometheus at /metrics, as well as pushed over OTLP when an endpoint is set.
                .AddPrometheusExporter())
            .WithTracing(tracing => tracing
                .AddSource(builder.Environment.ApplicationName)
                .AddSource(PlatformTelemetry.ActivitySourceNames)
                .AddAspNetCoreInstrumentation(options =>
                    // Probes are polled every few seconds; tracing them only buries real requests.
                    options.Filter = context =>
                        !context.Request.Path.StartsWithSegments(HealthEndpointPath)
                        && !context.Request.Path.StartsWithSegments(AlivenessEndpointPath)
                        && !context.Request.Path.StartsWithSegments(MetricsEndpointPath))
                .AddHttpClientInstrumentation(options => options.EnrichWithHttpRequestMessage = UrlRedaction.Enrich));

        if (!string.IsNullOrWhiteSpace(builder.Configuration["OTEL_EXPORTER_OTLP_ENDPOINT"]))
        {
            builder.Services.AddOpenTelemetry().UseOtlpExporter();
            // Over http/protobuf the exporter posts through IHttpClientFactory clients of these names,
            // which the defaults above would give the standard resilience pipeline (its breaker and
            // 30 s timeout would hold or drop exports; the exporter retries by itself) and request
            // logging (two log lines per export, themselves exported: a loop that never goes quiet).
            foreach (var name in (string[])["OtlpTraceExporter", "OtlpMetricExporter", "OtlpLogExporter"])
            {
#pragma warning disable EXTEXP0001 // experimental, but the documented way to opt one client out of the default resilience
                builder.Services.AddHttpClient(name).RemoveAllResilienceHandlers().RemoveAllLoggers();
#pragma warning restore EXTEXP0001
            }
        }
    }

    private static void AddDrain(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptionsWithValidateOnStart<DrainOptions>()
            .Configure<IConfiguration>((options, configuration) =>
                configuration.GetSection(DrainOptions.SectionName).Bind(options))
            .ValidateDataAnnotations();
        builder.Services.TryAddSingleton(TimeProvider.System);
        builder.Services.AddSingleton<Drain>();
        builder.Services.AddHostedService(services => services.GetRequiredService<Drain>());
        // The host cuts everything still running this long after the signal: the drain, then the flush.
        builder.Services.AddOptions<HostOptions>().Configure<IOptions<DrainOptions>>((host, drain) =>
            host.ShutdownTimeout = TimeSpan.FromSeconds(drain.Value.DrainTimeoutSeconds + drain.Value.FlushTimeoutSeconds));
    }

    private static void AddDefaultHealthChecks(this IHostApplicationBuilder builder)
    {
        builder.Services.AddHealthChecks()
            .AddCheck("self", () => HealthCheckResult.Healthy(), ["live"])
            .AddCheck<DrainHealthCheck>("shutdown");
    }

    /// <summary>
    /// Maps <c>/alive</c> (liveness: the process answers; only checks tagged <c>live</c>) and
    /// <c>/health</c> (readiness: every registered check passes, i.e. this replica's dependencies
    /// answer and it is not shutting down), unauthenticated, in every environment: they answer JSON
    /// naming each check and its status, nothing more. And <c>/metrics</c> (Prometheus) for a scraper
    /// that presents the metrics key (<c>AgentPlatform:MetricsKey</c>) as a bearer token: the page
    /// names tenants, request counts and cost, and the Api's listener is public. Without a key it is
    /// not served (OTLP export is unaffected).
    /// </summary>
    public static WebApplication MapDefaultEndpoints(this WebApplication app)
    {
        app.MapHealthChecks(HealthEndpointPath, new HealthCheckOptions
        {
            ResponseWriter = HealthResponseWriter.WriteAsync,
        }).DisableHttpMetrics();

        app.MapHealthChecks(AlivenessEndpointPath, new HealthCheckOptions
        {
            Predicate = check => check.Tags.Contains("live"),
            ResponseWriter = HealthResponseWriter.WriteAsync,
        }).DisableHttpMetrics();

        if (app.Configuration[MetricsKeyName] is { Length: > 0 } metricsKey)
        {
            var credential = new BearerCredential(metricsKey);
            app.MapPrometheusScrapingEndpoint(MetricsEndpointPath, meterProvider: null, optionsName: null,
                configureBranchedPipeline: scrape => scrape.Use((context, next) => credential.IsPresentedBy(context.Request)
                    ? next(context)
                    : RefuseScrapeAsync(context)))
                .DisableHttpMetrics();
        }

        return app;
    }

    private static Task RefuseScrapeAsync(HttpContext context)
    {
        context.Response.Headers.WWWAuthenticate = "Bearer";
        return OpenAIError.WriteAsync(context, StatusCodes.Status401Unauthorized,
            $"The metrics are for the platform's scraper: present the metrics key ({MetricsKeyName}) as a bearer token.",
            OpenAIError.Authentication, "invalid_metrics_key");
    }
}
