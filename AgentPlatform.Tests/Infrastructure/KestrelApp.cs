using System.Runtime.ExceptionServices;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace AgentPlatform.Tests.Infrastructure;

/// <summary>
/// One of the platform's services running for real on Kestrel at a loopback port, with its own
/// configuration, so services call each other over real HTTP as they do in production.
/// <typeparamref name="TMarker"/> is any type of the service's assembly.
/// </summary>
public sealed class KestrelApp<TMarker> : WebApplicationFactory<TMarker>, IRunningService where TMarker : class
{
    private readonly IEnumerable<KeyValuePair<string, string?>> _settings;
    private readonly Action<IServiceCollection>? _configureServices;
    private readonly IConfigurationSource? _extraConfiguration;
    private readonly StartFailure _startFailure = new();

    /// <param name="extraConfiguration">A source added last (it wins), e.g. one the test edits while the service runs.</param>
    public KestrelApp(
        IEnumerable<KeyValuePair<string, string?>> settings,
        Action<IServiceCollection>? configureServices = null,
        IConfigurationSource? extraConfiguration = null)
    {
        _settings = settings;
        _configureServices = configureServices;
        _extraConfiguration = extraConfiguration;
        // No port here: UseKestrel(port) rewrites the server addresses while the host may already be
        // starting, which failed now and then; the port comes from the "urls" setting below instead.
        UseKestrel();
    }

    /// <summary>The service's base address, e.g. <c>http://127.0.0.1:41234</c>.</summary>
    public Uri BaseAddress { get; private set; } = null!;

    public KestrelApp<TMarker> Start()
    {
        try
        {
            StartServer();
        }
        catch (ObjectDisposedException) when (_startFailure.Exception is { } cause)
        {
            // The service's own Program starts the host on its own thread; when that start fails fast
            // (an invalid setting), the host disposes itself before WebApplicationFactory has looked up
            // its lifetime, and the factory throws ObjectDisposedException in place of the cause. The
            // host logged the cause before disposing, so it is the one thrown here.
            ExceptionDispatchInfo.Throw(cause);
        }
        var address = Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        BaseAddress = new Uri(address.Replace("[::]", "127.0.0.1", StringComparison.Ordinal));
        return this;
    }

    /// <summary>A client of the service; of a Router, one that presents the internal key as the Api does.</summary>
    public HttpClient CreateHttpClient() => TestKeys.Client(BaseAddress, isRouter: typeof(TMarker).Assembly == typeof(AgentPlatform.Router.Configuration.RouterOptions).Assembly);

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseEnvironment("Production");
        builder.UseSetting("urls", "http://127.0.0.1:0");
        builder.ConfigureLogging(logging => logging.AddProvider(_startFailure));
        foreach (var (key, value) in TestKeys.Settings)
        {
            builder.UseSetting(key, value);
        }
        foreach (var (key, value) in _settings)
        {
            builder.UseSetting(key, value);
        }
        if (_configureServices is not null)
        {
            builder.ConfigureServices(_configureServices);
        }
        if (_extraConfiguration is not null)
        {
            builder.ConfigureAppConfiguration(configuration => configuration.Add(_extraConfiguration));
        }
    }
}

/// <summary>Keeps the exception with which the host reported that it failed to start.</summary>
internal sealed class StartFailure : ILoggerProvider
{
    private const string HostCategory = "Microsoft.Extensions.Hosting.Internal.Host";

    private Exception? _exception;

    /// <summary>Set on the thread that started the host, read on the test's.</summary>
    public Exception? Exception => Volatile.Read(ref _exception);

    public ILogger CreateLogger(string categoryName) => categoryName == HostCategory ? new HostLogger(this) : NullLogger.Instance;

    public void Dispose()
    {
    }

    private sealed class HostLogger(StartFailure failure) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Error;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (logLevel >= LogLevel.Error && exception is not null)
            {
                Interlocked.CompareExchange(ref failure._exception, exception, null);
            }
        }
    }
}

/// <summary>A service the tests started and call over HTTP, in the test process or as its own.</summary>
public interface IRunningService
{
    Uri BaseAddress { get; }

    HttpClient CreateHttpClient();
}
